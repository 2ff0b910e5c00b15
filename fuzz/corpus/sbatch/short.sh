#!/bin/sh
#SBATCH -G 4
#SBATCH --time=30
#SBATCH --export=NONE
#SBATCH -o out-%j.txt
#SBATCH --no-requeue
true
