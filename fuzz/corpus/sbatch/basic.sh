#!/bin/bash
#SBATCH --job-name=train
#SBATCH --gres=gpu:h100:2
#SBATCH -t 1-02:00:00
#SBATCH --mem=64G
#SBATCH -c 8
#SBATCH -q scavenger
python train.py
