//! The parsers against fixture text copied from real hosts, and the checks against
//! hand-made facts.

use super::parse::*;
use super::*;

const LIMITS: &str = "\
Limit                     Soft Limit           Hard Limit           Units     
Max cpu time              unlimited            unlimited            seconds   
Max stack size            8388608              unlimited            bytes     
Max processes             96365                96365                processes 
Max open files            20000                524288               files     
Max locked memory         65536                unlimited            bytes     
Max nice priority         0                    0                    
";

#[test]
fn rlimit_reads_soft_and_hard() {
    assert_eq!(
        rlimit(LIMITS, "Max open files"),
        Some(Rlimit {
            soft: Limit::Value(20000),
            hard: Limit::Value(524288)
        })
    );
    assert_eq!(
        rlimit(LIMITS, "Max locked memory"),
        Some(Rlimit {
            soft: Limit::Value(65536),
            hard: Limit::Unlimited
        })
    );
    assert_eq!(
        rlimit(LIMITS, "Max cpu time").map(|l| l.soft),
        Some(Limit::Unlimited)
    );
    // A line without units still parses.
    assert_eq!(
        rlimit(LIMITS, "Max nice priority").map(|l| l.hard),
        Some(Limit::Value(0))
    );
    // A prefix of a longer name is not that name.
    assert_eq!(rlimit(LIMITS, "Max open"), None);
    assert_eq!(rlimit(LIMITS, "Max file locks"), None);
    assert_eq!(rlimit("", "Max open files"), None);
    assert_eq!(
        rlimit("Max open files  lots  more  files", "Max open files"),
        None
    );
}

#[test]
fn limit_comparison() {
    assert!(Limit::Unlimited.at_least(u64::MAX));
    assert!(Limit::Value(10).at_least(10));
    assert!(!Limit::Value(9).at_least(10));
}

#[test]
fn port_range_parses_tab_and_spaces() {
    assert_eq!(port_range("32768\t60999"), Some((32768, 60999)));
    assert_eq!(port_range(" 10000   65535 \n"), Some((10000, 65535)));
    assert_eq!(port_range("60999 32768"), None);
    assert_eq!(port_range("1024"), None);
    assert_eq!(port_range("1 2 3"), None);
    assert_eq!(port_range("a b"), None);
}

#[test]
fn cpu_lists_parse_and_print() {
    let cases: &[(&str, Option<Vec<usize>>)] = &[
        ("0-1", Some(vec![0, 1])),
        ("0", Some(vec![0])),
        ("0-3,8,10-11\n", Some(vec![0, 1, 2, 3, 8, 10, 11])),
        ("3,1,1", Some(vec![1, 3])),
        ("", Some(vec![])),
        ("3-1", None),
        ("x", None),
        ("0-", None),
        ("0-99999", None),
    ];
    for (text, want) in cases {
        assert_eq!(&cpu_list(text), want, "{text:?}");
    }
    assert_eq!(fmt_cpu_list(&[0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
    assert_eq!(fmt_cpu_list(&[5, 4, 4]), "4-5");
    assert_eq!(fmt_cpu_list(&[]), "none");
}

#[test]
fn allowed_cpus_from_status() {
    let status = "Name:\tcat\nCpus_allowed:\t3\nCpus_allowed_list:\t0-1\nMems_allowed:\t1\n";
    assert_eq!(allowed_cpus(status), Some(vec![0, 1]));
    assert_eq!(allowed_cpus("Name:\tcat\n"), None);
}

#[test]
fn sysfs_choice_and_kernel_release() {
    assert_eq!(
        selected_mode("always [madvise] never").as_deref(),
        Some("madvise")
    );
    assert_eq!(
        selected_mode("[always] madvise never").as_deref(),
        Some("always")
    );
    assert_eq!(selected_mode("always madvise never"), None);
    assert_eq!(kernel_version("6.18.44-fc-v669"), Some((6, 18)));
    assert_eq!(kernel_version("5.4.0-150-generic"), Some((5, 4)));
    assert_eq!(kernel_version("6.8"), Some((6, 8)));
    assert_eq!(kernel_version("weird"), None);
}

#[test]
fn cmdline_params() {
    let cmdline = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro isolcpus=managed_irq,domain,2-7 \
                   nohz_full=2-7 quiet -- isolcpus=0";
    assert_eq!(
        cmdline_param(cmdline, "isolcpus"),
        Some("managed_irq,domain,2-7")
    );
    assert_eq!(cmdline_param(cmdline, "nohz_full"), Some("2-7"));
    assert_eq!(cmdline_param(cmdline, "quiet"), None);
    assert_eq!(cmdline_param(cmdline, "rcu_nocbs"), None);
    assert_eq!(
        isolcpus_list("managed_irq,domain,2-7"),
        Some((2..=7).collect())
    );
    assert_eq!(isolcpus_list("1,3"), Some(vec![1, 3]));
    assert_eq!(isolcpus_list("nohz,domain"), Some(vec![]));
}

#[test]
fn cpu_flags_and_dmi() {
    let cpuinfo = "processor\t: 0\nflags\t\t: fpu vme sse2 hypervisor lahf_lm\n\nprocessor\t: 1\n";
    assert!(has_cpu_flag(cpuinfo, "hypervisor"));
    assert!(!has_cpu_flag(cpuinfo, "hyper"));
    assert!(!has_cpu_flag("processor : 0\n", "hypervisor"));
    assert!(dmi_is_virtual("Standard PC (Q35 + ICH9, 2009)"));
    assert!(dmi_is_virtual("VMware Virtual Platform"));
    assert!(!dmi_is_virtual("PowerEdge R650"));
}

#[test]
fn cpus_must_be_online() {
    assert_eq!(cpus_online(&[0, 1], &[0, 1]), Ok(()));
    assert_eq!(cpus_online(&[], &[0]), Ok(()));
    let e = cpus_online(&[1, 7, 9], &[0, 1, 2, 3]).unwrap_err();
    assert_eq!(
        e,
        "runtime.cpus[1] = 7, runtime.cpus[2] = 9: no such CPU online on this host (online: 0-3)"
    );
}

fn plan() -> Plan {
    Plan {
        source: "test".into(),
        worker_cpus: vec![0, 1],
        configured_cpus: vec![],
        pin: true,
        driver: DriverChoice::Auto,
        io_uring_entries: 1024,
        backlog: 1024,
        connections_per_worker: 10_000,
    }
}

/// A well-tuned bare-metal host.
fn good_facts() -> Facts {
    let unlimited = Rlimit {
        soft: Limit::Unlimited,
        hard: Limit::Unlimited,
    };
    Facts {
        kernel: Some("6.8.0-45-generic".into()),
        io_uring_disabled: Some(0),
        uring_ops: true,
        ring_error: None,
        memlock: Some(unlimited),
        nofile: Some(Rlimit {
            soft: Limit::Value(1 << 20),
            hard: Limit::Value(1 << 20),
        }),
        somaxconn: Some(65535),
        syn_backlog: Some(65535),
        port_range: Some((10000, 65535)),
        tw_reuse: Some(1),
        file_max: Some(4 << 20),
        nr_open: Some(1 << 20),
        online_cpus: Some(vec![0, 1]),
        allowed_cpus: Some(vec![0, 1]),
        governors: vec![
            (0, Some("performance".into())),
            (1, Some("performance".into())),
        ],
        thp: Some("madvise".into()),
        dmi_product: Some("PowerEdge R650".into()),
        detect_virt: Some("none".into()),
        hypervisor_flag: Some(false),
        cmdline: Some("ro quiet".into()),
    }
}

fn status_of(checks: &[Check], name: &str) -> Status {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}"))
        .status
}

#[test]
fn a_tuned_host_passes_every_check() {
    let checks = evaluate(&plan(), &good_facts());
    for c in &checks {
        assert_eq!(c.status, Status::Ok, "{c:?}");
    }
    assert_eq!(checks.len(), 14);
}

#[test]
fn unknown_facts_warn_where_they_matter_and_say_unknown() {
    let facts = Facts {
        ring_error: Some("Operation not permitted (os error 1)".into()),
        ..Facts::default()
    };
    let checks = evaluate(&plan(), &facts);
    for name in [
        "io_uring",
        "memlock",
        "nofile",
        "somaxconn",
        "tcp_tw_reuse",
        "file-max",
    ] {
        assert_eq!(status_of(&checks, name), Status::Warn, "{name}");
    }
    // Nothing to act on when the host exposes no cpufreq, THP or cmdline.
    for name in [
        "cpufreq_governor",
        "transparent_hugepage",
        "virtualization",
        "cpu_isolation",
    ] {
        assert_eq!(status_of(&checks, name), Status::Ok, "{name}");
    }
    let thp = checks
        .iter()
        .find(|c| c.name == "transparent_hugepage")
        .unwrap();
    assert_eq!(thp.current, "unknown");
}

#[test]
fn each_bad_knob_warns() {
    type Break = fn(&mut Facts, &mut Plan);
    let cases: &[(&str, Break)] = &[
        ("io_uring", |f, _| {
            f.io_uring_disabled = Some(2);
            f.ring_error = Some("Operation not permitted (os error 1)".into());
        }),
        ("memlock", |f, _| {
            f.kernel = Some("5.10.0".into());
            f.memlock = Some(Rlimit {
                soft: Limit::Value(65536),
                hard: Limit::Value(65536),
            });
        }),
        ("nofile", |f, _| {
            f.nofile = Some(Rlimit {
                soft: Limit::Value(1024),
                hard: Limit::Value(1 << 20),
            })
        }),
        ("somaxconn", |f, p| {
            f.somaxconn = Some(4096);
            p.backlog = 8192;
        }),
        ("tcp_max_syn_backlog", |f, _| f.syn_backlog = Some(128)),
        ("ip_local_port_range", |f, _| {
            f.port_range = Some((32768, 60999))
        }),
        ("tcp_tw_reuse", |f, _| f.tw_reuse = Some(2)),
        ("file-max", |f, _| f.file_max = Some(100_000)),
        ("nr_open", |f, _| f.nr_open = Some(65536)),
        ("cpus", |_, p| p.configured_cpus = vec![0, 5]),
        ("cpus", |_, p| p.worker_cpus = vec![0, 1, 0, 1]),
        ("cpufreq_governor", |f, _| {
            f.governors[1].1 = Some("powersave".into())
        }),
        ("transparent_hugepage", |f, _| f.thp = Some("always".into())),
        ("virtualization", |f, _| f.hypervisor_flag = Some(true)),
        ("virtualization", |f, _| f.dmi_product = Some("KVM".into())),
        ("cpu_isolation", |f, _| {
            f.cmdline = Some("isolcpus=1".into())
        }),
        ("cpu_isolation", |f, p| {
            f.cmdline = Some("isolcpus=domain,1".into());
            p.configured_cpus = vec![0, 1];
        }),
    ];
    for (name, break_it) in cases {
        let (mut f, mut p) = (good_facts(), plan());
        break_it(&mut f, &mut p);
        let checks = evaluate(&p, &f);
        assert_eq!(status_of(&checks, name), Status::Warn, "{name}");
        let warned: Vec<_> = checks
            .iter()
            .filter(|c| c.status == Status::Warn)
            .map(|c| c.name)
            .collect();
        assert_eq!(warned, vec![*name], "only {name} should warn");
    }
}

#[test]
fn isolated_worker_cpus_pass_and_epoll_ignores_io_uring() {
    let mut f = good_facts();
    f.cmdline = Some("isolcpus=nohz,domain,0-1 nohz_full=0-1".into());
    f.allowed_cpus = Some(vec![]);
    let mut p = plan();
    p.configured_cpus = vec![0, 1];
    let checks = evaluate(&p, &f);
    assert_eq!(status_of(&checks, "cpu_isolation"), Status::Ok);
    assert_eq!(status_of(&checks, "cpus"), Status::Ok);

    let mut f = good_facts();
    f.ring_error = Some("denied".into());
    let mut p = plan();
    p.driver = DriverChoice::Epoll;
    assert_eq!(status_of(&evaluate(&p, &f), "io_uring"), Status::Ok);
}

#[test]
fn memlock_matters_only_before_5_12() {
    let small = Rlimit {
        soft: Limit::Value(65536),
        hard: Limit::Value(65536),
    };
    let mut f = good_facts();
    f.memlock = Some(small);
    assert_eq!(status_of(&evaluate(&plan(), &f), "memlock"), Status::Ok);
    f.kernel = Some("5.11.22".into());
    assert_eq!(status_of(&evaluate(&plan(), &f), "memlock"), Status::Warn);
    // Two 1024-entry rings: 100 KiB each, rounded to pages.
    assert_eq!(plan().memlock_needed(), 2 * 106_496);
    assert_eq!(plan().nofile_needed(), 2 * 10_000 * 2 + 1024);
}

#[test]
fn render_aligns_and_summarises() {
    let report = Report {
        source: "test".into(),
        checks: evaluate(&plan(), &good_facts()),
    };
    let text = report.render();
    assert!(text.contains("CHECK"), "{text}");
    assert!(text.contains("14 ok, 0 warn"), "{text}");
    let col = |line: &str| line.find("ok").or_else(|| line.find("STATUS"));
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("CHECK") || l.starts_with("somaxconn") || l.starts_with("cpus"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines.iter().all(|l| col(l) == col(lines[0])), "{text}");
}

#[test]
fn the_real_host_yields_every_check() {
    let report = inspect(None);
    let names: Vec<&str> = report.checks.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), 14);
    assert!(report.render().contains("nothing was changed"));
}
