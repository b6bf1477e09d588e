//! The spindle-bench workloads in Rust with rayon, same shapes, same method: contenders alternate
//! inside one process, one warm-up round, median of the rounds; every row carries its ratio to
//! Rust sequential code on the same data. Prints one JSON object per row on stdout.

use std::hint::black_box;
use std::sync::atomic::Ordering;
use std::time::Instant;

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { (xs[n / 2 - 1] + xs[n / 2]) / 2.0 }
}

/// Runs the contenders alternately; returns the median seconds of each, and checks results.
fn measure(reps: usize, contenders: &mut [&mut dyn FnMut() -> u64]) -> Vec<f64> {
    let mut times = vec![Vec::new(); contenders.len()];
    let mut checks = vec![0u64; contenders.len()];
    for round in 0..=reps {
        for (i, c) in contenders.iter_mut().enumerate() {
            let t0 = Instant::now();
            checks[i] = black_box(c());
            let t = t0.elapsed().as_secs_f64();
            if round > 0 { times[i].push(t); }
        }
    }
    for (i, c) in checks.iter().enumerate() {
        assert_eq!(*c, checks[0], "contender {} computed a different result", i);
    }
    times.into_iter().map(median).collect()
}

fn row(workload: &str, contender: &str, threads: usize, seconds: f64, baseline: f64, note: &str) {
    let ratio = if baseline.is_nan() { "null".to_string() } else { format!("{:.4}", seconds / baseline) };
    println!(
        "{{\"workload\":\"{}\",\"contender\":\"{}\",\"threads\":{},\"median_seconds\":{:e},\"ratio_vs_sequential\":{},\"note\":\"{}\"}}",
        workload, contender, threads, seconds, ratio, note
    );
}

fn fib_seq(n: u64) -> u64 { if n < 2 { n } else { fib_seq(n - 1) + fib_seq(n - 2) } }
fn fib_join(n: u64) -> u64 {
    if n < 2 { return n; }
    let (a, b) = rayon::join(|| fib_join(n - 1), || fib_join(n - 2));
    a + b
}

struct Node { value: u64, left: Option<Box<Node>>, right: Option<Box<Node>> }

/// Pre-order: the parent is allocated before its left subtree, the left before the right.
fn make_tree(depth: u32, next: &mut u64) -> Option<Box<Node>> {
    if depth == 0 { return None; }
    let mut node = Box::new(Node { value: *next, left: None, right: None });
    *next += 1;
    node.left = make_tree(depth - 1, next);
    node.right = make_tree(depth - 1, next);
    Some(node)
}
fn tree_seq(n: &Option<Box<Node>>) -> u64 {
    match n { None => 0, Some(n) => n.value + tree_seq(&n.left) + tree_seq(&n.right) }
}
fn tree_join(n: &Option<Box<Node>>) -> u64 {
    match n {
        None => 0,
        Some(n) => { let (a, b) = rayon::join(|| tree_join(&n.left), || tree_join(&n.right)); n.value + a + b }
    }
}

struct IndexTree { left: Vec<i32>, right: Vec<i32>, value: Vec<u64> }
impl IndexTree {
    fn new(depth: u32) -> Self {
        let n = (1usize << depth) - 1;
        let mut t = IndexTree { left: vec![-1; n], right: vec![-1; n], value: vec![0; n] };
        let mut next = 0usize;
        fn build(t: &mut IndexTree, d: u32, next: &mut usize) -> i32 {
            if d == 0 { return -1; }
            let me = *next; *next += 1;
            t.value[me] = me as u64;
            let l = build(t, d - 1, next); t.left[me] = l;
            let r = build(t, d - 1, next); t.right[me] = r;
            me as i32
        }
        build(&mut t, depth, &mut next);
        t
    }
    fn sum_seq(&self, i: i32) -> u64 {
        if i < 0 { return 0; }
        let j = i as usize;
        self.value[j] + self.sum_seq(self.left[j]) + self.sum_seq(self.right[j])
    }
    fn sum_join(&self, i: i32) -> u64 {
        if i < 0 { return 0; }
        let j = i as usize;
        let (a, b) = rayon::join(|| self.sum_join(self.left[j]), || self.sum_join(self.right[j]));
        self.value[j] + a + b
    }
}

fn random_ints(n: usize) -> Vec<i64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; (x >> 1) as i64 }).collect()
}
fn insertion_sort(a: &mut [i64]) {
    for i in 1..a.len() {
        let x = a[i];
        let mut j = i;
        while j > 0 && a[j - 1] > x { a[j] = a[j - 1]; j -= 1; }
        a[j] = x;
    }
}
fn partition(a: &mut [i64]) -> usize {
    let (lo, hi) = (0usize, a.len());
    let mid = lo + (hi - lo) / 2;
    if a[mid] < a[lo] { a.swap(mid, lo); }
    if a[hi - 1] < a[lo] { a.swap(hi - 1, lo); }
    if a[hi - 1] < a[mid] { a.swap(hi - 1, mid); }
    let pivot = a[mid];
    let (mut i, mut j) = (lo as isize, hi as isize - 1);
    loop {
        while a[i as usize] < pivot { i += 1; }
        while a[j as usize] > pivot { j -= 1; }
        if i >= j { return (j + 1) as usize; }
        a.swap(i as usize, j as usize);
        i += 1; j -= 1;
    }
}
fn quicksort_seq(a: &mut [i64]) {
    if a.len() <= 32 { insertion_sort(a); return; }
    let p = partition(a);
    let (l, r) = a.split_at_mut(p);
    quicksort_seq(l); quicksort_seq(r);
}
fn quicksort_join(a: &mut [i64]) {
    if a.len() <= 32 { insertion_sort(a); return; }
    let p = partition(a);
    let (l, r) = a.split_at_mut(p);
    rayon::join(|| quicksort_join(l), || quicksort_join(r));
}
fn checksum(a: &[i64]) -> u64 {
    let mut h: u64 = 0;
    for i in 0..a.len() {
        h = h.wrapping_mul(31).wrapping_add(a[i] as u64);
        if i > 0 && a[i - 1] > a[i] { return u64::MAX; }
    }
    h
}

/// Trial division, as in spindle-bench.
#[inline(never)]
fn is_prime(n: i64) -> bool {
    if n < 2 { return false; }
    if n % 2 == 0 { return n == 2; }
    let mut d = 3;
    while d * d <= n {
        if n % d == 0 { return false; }
        d += 2;
    }
    true
}

#[inline(always)]
fn mix_for_map(x: i64) -> i64 {
    x.wrapping_mul(0x9E37_79B9) ^ (x >> 7)
}

fn latency(calls: usize, mut body: impl FnMut()) -> f64 {
    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t0 = Instant::now();
        body();
        samples.push(t0.elapsed().as_secs_f64());
    }
    median(samples)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let opt = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let quick = args.iter().any(|a| a == "--quick");
    let threads: usize = opt("--threads").and_then(|s| s.parse().ok()).unwrap_or_else(num_cpus_fallback);
    let reps: usize = opt("--repetitions").and_then(|s| s.parse().ok()).unwrap_or(if quick { 5 } else { 9 });
    let filter = opt("--filter");
    let wanted = |w: &str| filter.as_deref().map_or(true, |f| w.contains(f));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();

    for n in if quick { vec![30u64] } else { vec![30, 32] } {
        let w = format!("fib-{}", n);
        if !wanted(&w) { continue; }
        let t = measure(reps, &mut [&mut || fib_seq(n), &mut || pool.install(|| fib_join(n))]);
        row(&w, "rust-sequential", 1, t[0], t[0], "");
        row(&w, "rayon", threads, t[1], t[0], "");
    }
    for depth in if quick { vec![20u32] } else { vec![20, 24] } {
        let w = format!("tree-sum-{}", depth);
        if !wanted(&w) { continue; }
        let mut next = 0;
        let root = make_tree(depth, &mut next);
        let t = measure(reps, &mut [&mut || tree_seq(&root), &mut || pool.install(|| tree_join(&root))]);
        row(&w, "rust-sequential", 1, t[0], t[0], "");
        row(&w, "rayon", threads, t[1], t[0], "");
    }
    if wanted("tree-sum-20-indexed") {
        let tree = IndexTree::new(20);
        let t = measure(reps, &mut [&mut || tree.sum_seq(0), &mut || pool.install(|| tree.sum_join(0))]);
        row("tree-sum-20-indexed", "rust-sequential", 1, t[0], t[0], "");
        row("tree-sum-20-indexed", "rayon", threads, t[1], t[0], "");
    }
    if wanted("sum-1e7") {
        use rayon::prelude::*;
        let data: Vec<u64> = (0..10_000_000u64).map(|i| i & 1023).collect();
        let t = measure(reps, &mut [
            &mut || data.iter().fold(0u64, |a, &x| a.wrapping_add(x)),
            &mut || pool.install(|| data.par_iter().copied().reduce(|| 0u64, |a, b| a.wrapping_add(b))),
        ]);
        row("sum-1e7", "rust-sequential", 1, t[0], t[0], "");
        row("sum-1e7", "rayon", threads, t[1], t[0], "par_iter().reduce");
    }
    if wanted("par-sum-1e7") {
        use rayon::prelude::*;
        let data: Vec<u64> = (0..10_000_000u64).map(|i| i & 1023).collect();
        let t = measure(reps, &mut [
            &mut || data.iter().sum::<u64>(),
            &mut || pool.install(|| data.par_iter().sum::<u64>()),
        ]);
        row("par-sum-1e7", "rust-sequential", 1, t[0], t[0], "iter().sum()");
        row("par-sum-1e7", "rayon", threads, t[1], t[0], "par_iter().sum()");
    }
    if wanted("map-reduce-1e7") {
        use rayon::prelude::*;
        // Checked arithmetic (Rust's release builds wrap; the Swift rows trap on overflow).
        let data: Vec<i64> = (0..10_000_000i64).collect();
        let t = measure(reps, &mut [
            &mut || data.iter().fold(0i64, |a, &x| a.checked_add(x.checked_mul(3).unwrap()).unwrap()) as u64,
            &mut || pool.install(|| data.par_iter().map(|&x| x.checked_mul(3).unwrap())
                .reduce(|| 0i64, |a, b| a.checked_add(b).unwrap())) as u64,
        ]);
        row("map-reduce-1e7", "rust-sequential", 1, t[0], t[0], "");
        row("map-reduce-1e7", "rayon", threads, t[1], t[0], "par_iter().map().reduce()");
    }
    if wanted("primes-2e6") {
        use rayon::prelude::*;
        let n = 2_000_000i64;
        let t = measure(reps, &mut [
            &mut || (0..n).filter(|&i| is_prime(i)).count() as u64,
            &mut || pool.install(|| (0..n).into_par_iter().filter(|&i| is_prime(i)).count() as u64),
        ]);
        row("primes-2e6", "rust-sequential", 1, t[0], t[0], "");
        row("primes-2e6", "rayon", threads, t[1], t[0], "into_par_iter().filter().count()");
    }
    if wanted("map-collect-5e6") {
        use rayon::prelude::*;
        let data: Vec<i64> = (0..5_000_000i64).collect();
        let digest = |a: &Vec<i64>| (a[0].wrapping_add(a[a.len() / 3]).wrapping_add(a[a.len() - 1]) as u64).wrapping_add(a.len() as u64);
        let t = measure(reps, &mut [
            &mut || digest(&data.iter().map(|&x| mix_for_map(x)).collect::<Vec<i64>>()),
            &mut || digest(&pool.install(|| data.par_iter().map(|&x| mix_for_map(x)).collect::<Vec<i64>>())),
        ]);
        row("map-collect-5e6", "rust-sequential", 1, t[0], t[0], "");
        row("map-collect-5e6", "rayon", threads, t[1], t[0], "par_iter().map().collect()");
    }
    if wanted("quicksort") {
        let n = if quick { 2_000_000 } else { 10_000_000 };
        let name = if quick { "quicksort-2e6" } else { "quicksort-1e7" };
        let input = random_ints(n);
        let mut buf = input.clone();
        let mut seq = || { buf.copy_from_slice(&input); quicksort_seq(&mut buf); checksum(&buf) };
        let mut buf2 = input.clone();
        let mut par = || { buf2.copy_from_slice(&input); pool.install(|| quicksort_join(&mut buf2)); checksum(&buf2) };
        let t = measure(reps, &mut [&mut seq, &mut par]);
        row(name, "rust-sequential", 1, t[0], t[0], "");
        row(name, "rayon", threads, t[1], t[0], "");
    }
    if wanted("sort-4e6") {
        use rayon::prelude::*;
        let input = random_ints(4_000_000);
        let t = measure(reps, &mut [
            &mut || { let mut a = input.clone(); a.sort(); (a[a.len() / 2] as u64).wrapping_add(a[0] as u64) },
            &mut || { let mut a = input.clone(); pool.install(|| a.par_sort()); (a[a.len() / 2] as u64).wrapping_add(a[0] as u64) },
        ]);
        row("sort-4e6", "rust-sequential", 1, t[0], t[0], "slice::sort (stable)");
        row("sort-4e6", "rayon", threads, t[1], t[0], "par_sort (stable)");
    }
    if wanted("spawn") {
        let n = 1_000_000u64;
        // Per-thread counters on their own cache lines, as in spindle-bench.
        let counters: Vec<std::sync::atomic::AtomicU64> = (0..64 * 16).map(|_| std::sync::atomic::AtomicU64::new(0)).collect();
        let bump = |c: &Vec<std::sync::atomic::AtomicU64>| {
            let i = rayon::current_thread_index().unwrap_or(63);
            c[i * 16].fetch_add(1, Ordering::Relaxed);
        };
        let total = |c: &Vec<std::sync::atomic::AtomicU64>| (0..64).map(|i| c[i * 16].swap(0, Ordering::Relaxed)).sum::<u64>();
        let mut seq = || { for _ in 0..n { bump(&counters); } total(&counters) };
        let mut par = || { pool.install(|| rayon::scope(|s| for _ in 0..n { s.spawn(|_| bump(&counters)); })); total(&counters) };
        let t = measure(reps, &mut [&mut seq, &mut par]);
        row("spawn-1e6", "rust-sequential", 1, t[0], t[0], "");
        row("spawn-1e6", "rayon", threads, t[1], t[0], &format!("{:.0} ns per spawn", t[1] / n as f64 * 1e9));
    }
    if wanted("external-join") {
        let calls = if quick { 2_000 } else { 20_000 };
        let mut samples = Vec::new();
        for round in 0..=reps {
            // From the main thread, outside the pool: rayon injects the call and blocks.
            let s = latency(calls, || { pool.install(|| rayon::join(|| black_box(1), || black_box(2))); });
            if round > 0 { samples.push(s); }
        }
        row("external-join", "rayon", threads, median(samples), f64::NAN, "per call, from a thread outside the pool");
    }
}

fn num_cpus_fallback() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
