//! What sealing costs: a job spec's worth of JSON (about 1 KiB) sealed and
//! opened, a data key wrapped, and a sealed file written and read in full, at
//! 64 KiB per chunk.

use aisc_vault::stream::{self, Header, SealWriter};
use aisc_vault::{DataKey, MasterKey, MasterKeys, open, seal, unwrap, wrap};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::Cursor;

fn values(c: &mut Criterion) {
    let key = DataKey::generate();
    let spec = vec![b'x'; 1024];
    let sealed = seal(&key, 1, b"job:1", &spec);
    let mut g = c.benchmark_group("value");
    g.throughput(Throughput::Elements(1));
    g.bench_function("seal 1 KiB", |b| {
        b.iter(|| seal(&key, 1, b"job:1", black_box(&spec)))
    });
    g.bench_function("open 1 KiB", |b| {
        b.iter(|| open(&key, b"job:1", black_box(&sealed)))
    });
    let ring = MasterKeys::from_keys(vec![MasterKey::generate()]);
    let kid = ring.current().kid().to_string();
    let wrapped = wrap(ring.current(), &key, 7, "project:1");
    g.bench_function("wrap a data key", |b| {
        b.iter(|| wrap(ring.current(), black_box(&key), 7, "project:1"))
    });
    g.bench_function("unwrap a data key", |b| {
        b.iter(|| unwrap(&ring, &kid, black_box(&wrapped), 7, "project:1"))
    });
    g.finish();
}

fn files(c: &mut Criterion) {
    let key = DataKey::generate();
    let data = vec![7u8; 16 << 20];
    let mut g = c.benchmark_group("file");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("seal 16 MiB", |b| {
        b.iter(|| {
            let mut w = SealWriter::new(
                Vec::with_capacity(data.len() + 8192),
                &key,
                1,
                b"log:1:output.log",
            )
            .expect("header");
            w.write(black_box(&data)).expect("write");
            w.finish().expect("finish")
        })
    });
    let mut w = SealWriter::new(Vec::new(), &key, 1, b"log:1:output.log").expect("header");
    w.write(&data).expect("write");
    let (file, _) = w.finish().expect("finish");
    g.bench_function("read 16 MiB", |b| {
        b.iter(|| {
            let mut c = Cursor::new(&file);
            let h = Header::read_from(&mut c).expect("header");
            stream::read_range(
                &mut c,
                &h,
                &key,
                b"log:1:output.log",
                file.len() as u64,
                0,
                u64::MAX,
            )
            .expect("read")
        })
    });
    g.finish();
}

criterion_group!(benches, values, files);
criterion_main!(benches);
