//! What this host has: CPUs, memory, and NVIDIA GPUs found through NVML.
//!
//! NVML (`libnvidia-ml.so`) is loaded at run time, so the build needs no GPU
//! and no driver; without one the host simply has no GPUs. `--fake-gpus N`
//! declares N GPUs that do not exist, for testing, and every report says so.

use serde::{Deserialize, Serialize};

/// One GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GpuInfo {
    /// Index in PCI bus order (what `CUDA_VISIBLE_DEVICES` uses).
    pub index: u32,
    /// Model name.
    pub name: String,
    /// NVML's UUID, when real.
    pub uuid: Option<String>,
    /// Memory, MiB.
    pub memory_mb: u64,
    /// Declared with `--fake-gpus`: not a real device.
    pub fake: bool,
}

/// This host's resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Host name.
    pub hostname: String,
    /// CPU cores usable by this process.
    pub cpus: u32,
    /// Total memory, MiB.
    pub mem_mb: u64,
    /// GPUs.
    pub gpus: Vec<GpuInfo>,
    /// How the GPUs were found, or why there are none.
    pub gpu_source: String,
}

/// GPUs that do not exist, declared for testing: how many, and the model name they claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeGpus {
    /// How many.
    pub count: u32,
    /// Model name (`fake` unless given, e.g. `h100` from `--fake-gpus h100:8`).
    pub model: String,
}

/// Looks at this host. With `fake`, NVML is not consulted.
pub fn discover(fake: Option<&FakeGpus>) -> HostInfo {
    let (gpus, gpu_source) = match fake {
        Some(FakeGpus { count, model }) => (
            (0..*count)
                .map(|index| GpuInfo {
                    index,
                    name: model.clone(),
                    uuid: None,
                    memory_mb: 0,
                    fake: true,
                })
                .collect(),
            match model.as_str() {
                "fake" => format!("{count} fake GPUs declared with --fake-gpus (not real devices)"),
                m => format!("{count} fake {m} GPUs declared with --fake-gpus (not real devices)"),
            },
        ),
        None => match nvml_gpus() {
            Ok(gpus) if gpus.is_empty() => (gpus, "NVML found no GPUs".into()),
            Ok(gpus) => {
                let n = gpus.len();
                (gpus, format!("{n} NVIDIA GPUs found through NVML"))
            }
            Err(why) => (Vec::new(), format!("no NVIDIA GPUs: {why}")),
        },
    };
    HostInfo {
        hostname: hostname(),
        cpus: std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX)),
        mem_mb: mem_total_mb().unwrap_or(0),
        gpus,
        gpu_source,
    }
}

fn nvml_gpus() -> Result<Vec<GpuInfo>, String> {
    use nvml_wrapper::Nvml;
    let nvml = Nvml::init().map_err(|e| format!("NVML could not be loaded ({e})"))?;
    let count = nvml
        .device_count()
        .map_err(|e| format!("NVML device count failed ({e})"))?;
    (0..count)
        .map(|index| {
            let dev = nvml
                .device_by_index(index)
                .map_err(|e| format!("NVML device {index}: {e}"))?;
            Ok(GpuInfo {
                index,
                name: dev.name().unwrap_or_else(|_| "unknown".into()),
                uuid: dev.uuid().ok(),
                memory_mb: dev
                    .memory_info()
                    .map(|m| m.total / (1024 * 1024))
                    .unwrap_or(0),
                fake: false,
            })
        })
        .collect()
}

impl HostInfo {
    /// Whether this host's GPUs are declared fakes.
    pub fn gpus_fake(&self) -> bool {
        self.gpus.iter().any(|g| g.fake)
    }

    /// The GPU model as a short lower-case type (`NVIDIA H100 80GB HBM3` → `h100`), if any GPUs.
    pub fn gpu_type(&self) -> Option<String> {
        let name = self.gpus.first()?.name.to_ascii_lowercase();
        let short = name
            .split_whitespace()
            .find(|w| !matches!(*w, "nvidia" | "tesla" | "geforce" | "quadro"));
        Some(short.unwrap_or("gpu").to_string())
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn mem_total_mb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_total_kb(&text).map(|kb| kb / 1024)
}

fn parse_mem_total_kb(meminfo: &str) -> Option<u64> {
    meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_gpus_are_named_as_fake() {
        let h = discover(Some(&FakeGpus {
            count: 3,
            model: "fake".into(),
        }));
        assert_eq!(h.gpus.len(), 3);
        assert!(h.gpus.iter().all(|g| g.fake));
        assert!(h.gpu_source.contains("fake"));
        assert!(h.cpus >= 1);
        assert!(h.mem_mb > 0);
    }

    #[test]
    fn without_a_driver_there_are_no_gpus_and_a_reason() {
        let h = discover(None);
        if h.gpus.is_empty() {
            assert!(
                h.gpu_source.starts_with("no NVIDIA GPUs") || h.gpu_source == "NVML found no GPUs"
            );
        } else {
            assert!(h.gpus.iter().all(|g| !g.fake && g.uuid.is_some()));
        }
    }

    #[test]
    fn gpu_type_is_the_short_model_name() {
        let mut h = discover(Some(&FakeGpus {
            count: 1,
            model: "NVIDIA H100 80GB HBM3".into(),
        }));
        assert_eq!(h.gpu_type().as_deref(), Some("h100"));
        h.gpus.clear();
        assert_eq!(h.gpu_type(), None);
    }

    #[test]
    fn reads_mem_total() {
        assert_eq!(
            parse_mem_total_kb("MemFree: 1 kB\nMemTotal:       24576000 kB\n"),
            Some(24_576_000)
        );
        assert_eq!(parse_mem_total_kb("nothing"), None);
    }
}
