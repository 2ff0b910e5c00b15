//! The readers on small traces written in the tests.

use super::*;

fn read_str(s: &str, f: Format, opts: ReadOptions) -> Result<Trace, TraceError> {
    read_from(s.as_bytes(), "test", f, opts)
}

#[test]
fn philly_rows_become_jobs_sorted_by_submission_with_tenants() {
    let t = read_str(
        "timestamp,duration,num_gpus,gpu_time,cluster\n\
         2017-10-09 07:01:55,66.0,1,66.0,11cb48\n\
         2017-10-09 06:13:03,2951.0,8,2951.0,6214e9\n\
         2017-10-09 06:13:04,10.0,0,0,6214e9\n",
        Format::Philly,
        ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(t.jobs.len(), 2);
    assert_eq!(t.jobs[0].tenant, "6214e9");
    assert_eq!(t.jobs[0].submit, 0.0);
    assert_eq!(t.jobs[1].submit, 2932.0);
    assert_eq!(t.jobs[0].gpus, 8);
    assert_eq!(t.left_out["no GPU"], 1);
    assert_eq!(t.origin, Some(1_507_529_583));
}

#[test]
fn a_malformed_row_names_its_line_and_field_or_is_skipped_and_counted() {
    let text = "timestamp,duration,num_gpus,gpu_time,cluster\n\
                2017-10-09 07:01:55,66.0,1,66.0,a\n\
                2017-10-09 07:01:56,-5,1,66.0,a\n\
                2017-13-09 07:01:57,5,1,66.0,a\n\
                2017-10-09 07:01:58,5,2.5,66.0,a\n";
    let e = read_str(text, Format::Philly, ReadOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("line 3") && msg.contains("duration"), "{msg}");
    let t = read_str(
        text,
        Format::Philly,
        ReadOptions {
            skip_bad_rows: true,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(t.jobs.len(), 1);
    assert_eq!(t.bad_rows, 3);
    assert!(
        t.bad_examples[1].starts_with("line 4: timestamp"),
        "{:?}",
        t.bad_examples
    );
    assert!(t.bad_examples[2].contains("num_gpus"));
}

#[test]
fn a_missing_column_is_named() {
    let e = read_str("a,b\n1,2\n", Format::Generic, ReadOptions::default()).unwrap_err();
    assert!(e.to_string().contains("\"submit_time\""), "{e}");
}

#[test]
fn muri_times_are_milliseconds_and_run_time_can_follow_its_simulator() {
    let text = "job_id,num_gpu,submit_time,iterations,model_name,batch_size,duration,interval,iteration_time\n\
                0,1,0,1000,dqn,128,490000,0,490\n\
                1,8,2000,100,vgg16,16,21400,0,214\n";
    let t = read_str(text, Format::Muri, ReadOptions::default()).unwrap();
    assert_eq!(t.jobs[1].submit, 2.0);
    assert_eq!(t.jobs[0].duration, 490.0);
    assert_eq!(t.jobs[0].model.as_deref(), Some("dqn"));
    let c = read_str(
        text,
        Format::Muri,
        ReadOptions {
            muri_run_time: true,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert!((c.jobs[0].duration - 490.0 * 1.015).abs() < 1e-9);
    assert_eq!(c.origin, None);
}

#[test]
fn alibaba_fractions_are_rounded_up_or_skipped_and_cpu_pods_left_out() {
    let text = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,deletion_time,scheduled_time\n\
                p0,1000,10,1,1000,,LS,Running,0,100,10\n\
                p1,1000,10,1,460,,BE,Running,5,50,5\n\
                p2,1000,10,0,0,,BE,Running,5,50,5\n";
    let t = read_str(text, Format::Alibaba, ReadOptions::default()).unwrap();
    assert_eq!(t.jobs.len(), 2);
    assert_eq!(t.rounded_up, 1);
    assert_eq!(t.jobs[0].duration, 90.0);
    assert_eq!(t.jobs[1].tenant, "BE");
    let s = read_str(
        text,
        Format::Alibaba,
        ReadOptions {
            fractional: Fractional::Skip,
            ..ReadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(s.jobs.len(), 1);
    assert_eq!(s.left_out.values().sum::<usize>(), 2);
}

#[test]
fn sacct_output_replays_jobs_not_steps() {
    let text = "JobID|Account|Submit|Start|End|Elapsed|AllocTRES|State\n\
                10|physics|2026-01-05T10:00:00|2026-01-05T10:00:05|2026-01-05T11:00:05|01:00:00|billing=8,cpu=8,gres/gpu=4,mem=32G,node=1|COMPLETED\n\
                10.batch|physics|2026-01-05T10:00:00|2026-01-05T10:00:05|2026-01-05T11:00:05|01:00:00|cpu=8|COMPLETED\n\
                11|bio|2026-01-05T10:30:00|2026-01-05T10:31:00|2026-01-06T10:31:00|1-00:00:00|cpu=2,gres/gpu:h800=8|COMPLETED\n\
                12|bio|2026-01-05T10:30:00|Unknown|Unknown|00:00:00|cpu=2|PENDING\n";
    let t = read_str(text, Format::Sacct, ReadOptions::default()).unwrap();
    assert_eq!(t.jobs.len(), 2);
    assert_eq!(t.jobs[0].gpus, 4);
    assert_eq!(t.jobs[0].duration, 3600.0);
    assert_eq!(t.jobs[1].duration, 86_400.0);
    assert_eq!(t.jobs[1].class.as_deref(), Some("h800"));
    assert_eq!(t.jobs[1].submit, 1800.0);
    assert_eq!(t.left_out.values().sum::<usize>(), 2);
}

#[test]
fn generic_csv_takes_seconds_or_dates_and_an_optional_class() {
    let t = read_str(
        "submit_time,duration,num_gpus,tenant,gpu_class\n10,3600,8,uni-a,h800\n0,60,1,uni-b,\n",
        Format::Generic,
        ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(t.jobs[0].tenant, "uni-b");
    assert_eq!(t.jobs[1].class.as_deref(), Some("h800"));
    assert_eq!(t.jobs[1].submit, 10.0);
    let e = read_str(
        "submit_time,duration,num_gpus,tenant\n0,60,999999,a\n",
        Format::Generic,
        ReadOptions::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("line 2") && e.to_string().contains("100000"),
        "{e}"
    );
}
