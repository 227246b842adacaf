//! The standard `process_*` metrics of a Prometheus target (CPU time,
//! memory, file descriptors, start time), read from `/proc/self` at scrape
//! time and written as OpenMetrics lines. Linux only: elsewhere, or when
//! `/proc` cannot be read, the families are simply left out.

use std::fmt::Write;

/// Clock ticks per second of `/proc/<pid>/stat` times: `USER_HZ`, 100 on
/// every Linux architecture the kernel exposes to user space.
const USER_HZ: f64 = 100.0;

/// The process figures, as read once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Process {
    pub(crate) cpu_seconds: f64,
    pub(crate) resident_bytes: u64,
    pub(crate) virtual_bytes: u64,
    pub(crate) open_fds: u64,
    pub(crate) max_fds: Option<u64>,
    pub(crate) start_time_seconds: f64,
}

impl Process {
    /// Reads this process's figures; `None` where `/proc` is missing.
    pub(crate) fn read() -> Option<Process> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let boot = std::fs::read_to_string("/proc/stat").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
        Process::parse(&stat, &status, &boot, &limits, open_fds)
    }

    /// The figures from the texts of `/proc/self/stat`, `/proc/self/status`,
    /// `/proc/stat` and `/proc/self/limits`.
    pub(crate) fn parse(
        stat: &str,
        status: &str,
        boot: &str,
        limits: &str,
        open_fds: u64,
    ) -> Option<Process> {
        // The command name (field 2) may hold spaces and parentheses: the
        // fields that follow start after its last `)`.
        let rest = &stat[stat.rfind(')')? + 1..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // rest[0] is field 3 (state): field n is f[n - 3].
        let ticks = |n: usize| f.get(n - 3)?.parse::<f64>().ok();
        let cpu_seconds = (ticks(14)? + ticks(15)?) / USER_HZ;
        let start_ticks = ticks(22)?;
        let btime: f64 = boot
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        let kb = |key: &str| -> Option<u64> {
            let v = status.lines().find_map(|l| l.strip_prefix(key))?;
            Some(v.split_whitespace().next()?.parse::<u64>().ok()? * 1024)
        };
        let max_fds = limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|v| v.parse().ok());
        Some(Process {
            cpu_seconds,
            resident_bytes: kb("VmRSS:")?,
            virtual_bytes: kb("VmSize:")?,
            open_fds,
            max_fds,
            start_time_seconds: btime + start_ticks / USER_HZ,
        })
    }

    /// The OpenMetrics lines of these figures (no `# EOF`).
    pub(crate) fn exposition(&self) -> String {
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, sample: String| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{sample}");
        };
        family(
            "process_cpu_seconds",
            "counter",
            "Total user and system CPU time spent in seconds.",
            format!("process_cpu_seconds_total {}", self.cpu_seconds),
        );
        family(
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes.",
            format!("process_resident_memory_bytes {}", self.resident_bytes),
        );
        family(
            "process_virtual_memory_bytes",
            "gauge",
            "Virtual memory size in bytes.",
            format!("process_virtual_memory_bytes {}", self.virtual_bytes),
        );
        family(
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            format!("process_open_fds {}", self.open_fds),
        );
        if let Some(max) = self.max_fds {
            family(
                "process_max_fds",
                "gauge",
                "Maximum number of open file descriptors.",
                format!("process_max_fds {max}"),
            );
        }
        family(
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            format!("process_start_time_seconds {}", self.start_time_seconds),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_read_from_proc_texts() {
        let stat = "4242 (veil (leur)) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 8 0 1500 123456789 2000 18446744073709551615";
        let status = "Name:\tveilleur\nVmSize:\t  123456 kB\nVmRSS:\t    2048 kB\n";
        let boot = "cpu  1 2 3\nbtime 1700000000\nprocesses 9\n";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        let p = Process::parse(stat, status, boot, limits, 12).unwrap();
        assert_eq!(p.cpu_seconds, 3.0);
        assert_eq!(p.resident_bytes, 2048 * 1024);
        assert_eq!(p.virtual_bytes, 123_456 * 1024);
        assert_eq!(p.open_fds, 12);
        assert_eq!(p.max_fds, Some(1024));
        assert_eq!(p.start_time_seconds, 1_700_000_015.0);
        let text = p.exposition();
        assert!(
            text.contains("# TYPE process_cpu_seconds counter\nprocess_cpu_seconds_total 3\n"),
            "{text}"
        );
        assert!(
            text.contains("process_resident_memory_bytes 2097152\n"),
            "{text}"
        );
    }

    #[test]
    fn this_process_can_be_read() {
        let p = Process::read().expect("/proc/self is readable on Linux");
        assert!(
            p.resident_bytes > 0 && p.open_fds > 0 && p.start_time_seconds > 1e9,
            "{p:?}"
        );
    }
}
