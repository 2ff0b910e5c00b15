-- Resource classes (kinds of accelerator node), how many nodes of each the
-- centre has, and their list prices per GPU-hour, versioned by effective time.
CREATE TABLE resource_classes (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    gpu_model        TEXT NOT NULL,
    gpus_per_node    INTEGER NOT NULL,
    cpus_per_node    INTEGER NOT NULL,
    mem_mb_per_node  INTEGER NOT NULL,
    -- peak TFLOPS per GPU, per precision (0 when unknown)
    tflops_fp64      REAL NOT NULL,
    tflops_fp32      REAL NOT NULL,
    tflops_bf16      REAL NOT NULL,
    tflops_fp8       REAL NOT NULL,
    nodes            INTEGER NOT NULL,
    created_ms       INTEGER NOT NULL
);

CREATE TABLE prices (
    id                  INTEGER PRIMARY KEY,
    class_id            INTEGER NOT NULL REFERENCES resource_classes(id),
    cents_per_gpu_hour  INTEGER NOT NULL,
    effective_ms        INTEGER NOT NULL,
    created_ms          INTEGER NOT NULL,
    UNIQUE (class_id, effective_ms)
);
