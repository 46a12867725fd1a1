//! Seal and open of a 1 KiB setup: `cargo bench -p flowvault-crypto`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flowvault_crypto::{Keyring, MasterKey, SealContext};

fn envelope(c: &mut Criterion) {
    let master = MasterKey::generate().unwrap_or_else(|e| panic!("{e}"));
    let (ring, _) = Keyring::create(&master).unwrap_or_else(|e| panic!("{e}"));
    let ctx = SealContext::new("tn_0123456789ABCDEFGHIJKL", "ac_0123456789ABCDEFGHIJKL", "setup")
        .unwrap_or_else(|e| panic!("{e}"));
    let setup = vec![b'x'; 1024];
    let blob = ring.seal(&ctx, &setup).unwrap_or_else(|e| panic!("{e}"));

    let mut group = c.benchmark_group("envelope_1KiB");
    group.throughput(Throughput::Bytes(1024));
    group.bench_function("seal", |b| b.iter(|| ring.seal(black_box(&ctx), black_box(&setup))));
    group.bench_function("open", |b| b.iter(|| ring.open(black_box(&ctx), black_box(&blob))));
    group.bench_function("seal+open", |b| {
        b.iter(|| {
            let blob = ring.seal(black_box(&ctx), black_box(&setup)).unwrap_or_default();
            ring.open(&ctx, &blob).map(|p| p.len())
        });
    });
    group.finish();

    c.bench_function("fingerprint_1KiB", |b| {
        b.iter(|| ring.fingerprint(black_box(&[b"tn_x", b"TWILIO", &setup])));
    });
}

criterion_group!(benches, envelope);
criterion_main!(benches);
