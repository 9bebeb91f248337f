//! The report store at fleet scale: the similar-batch lookup and the filtered fleet query
//! over N completed batches (default 1,000,000), each beside the statement it replaced
//! (kept here as the baseline), with the ratio and the plans.
//!
//! ```text
//! cargo bench --bench store_scale                        # both backends, 1,000,000 batches
//! ARGUS_BENCH_BATCHES=100000 ARGUS_BENCH_BACKEND=sqlite cargo bench --bench store_scale
//! ARGUS_BENCH_QUICK=1 cargo bench --bench store_scale    # 20,000 batches
//! ```
//!
//! Seeding: a deterministic skewed fleet (about 4 codes a batch; one code in about 28 % of
//! the batches, five more in 5–15 %, a Zipf tail over 3,000 rare codes; VINs of about 20
//! batches each; 40 firmware versions, the largest about 16 % of the batches; a year of
//! record time). Postgres: `COPY` into a fresh database (`argus_scale_<N>`) with triggers
//! off (`session_replication_role = replica`), then `VACUUM ANALYZE`. SQLite: one
//! transaction of multi-row inserts (the status trigger dropped and put back)
//! into `target/bench-data/store-scale-<N>.db`. Both are migrated by `Store::migrate` first
//! and filled as the write path fills them (`batches`, `batch_codes`, `completed_codes`, and
//! the firmware day rollups, recomputed after the load since it bypasses their triggers).
//! Both are removed at the end unless `ARGUS_BENCH_KEEP=1` (a kept one is reused).
//!
//! Knobs: `ARGUS_BENCH_BATCHES`, `ARGUS_BENCH_BACKEND=postgres|sqlite|both`,
//! `ARGUS_BENCH_QUERIES` (new lookups, default 1,000: a p99 of 200 is the second slowest),
//! `ARGUS_BENCH_WARMUP` (untimed lookups of batches spread over the fleet first, default
//! 500: a running service's cache holds the pages its lookups read; the first lookups
//! after a restart read them from disk), `ARGUS_BENCH_OLD_QUERIES` (baseline lookups,
//! default 10: the old statements take seconds each at 1 M),
//! `ARGUS_BENCH_DATABASE_URL` (Postgres admin URL, default
//! `postgres://postgres:argus@127.0.0.1:5432/postgres`).

#[path = "common/mod.rs"]
mod common;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use argus_sinks::{FleetQuery, Store, TimeWindow};
use common::{data_dir, env_or, loadavg, print_table, quick};
use sqlx::{Connection, Executor};

const DAY_NS: i64 = 86_400 * 1_000_000_000;
const YEAR_START_NS: i64 = 1_700_000_000 * 1_000_000_000;

fn main() {
    let n: usize = env_or("ARGUS_BENCH_BATCHES", if quick() { 20_000 } else { 1_000_000 });
    let backend = std::env::var("ARGUS_BENCH_BACKEND").unwrap_or_else(|_| "both".into());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    println!("store_scale benchmark, N = {n} batches; load average at start: {}", loadavg());
    let started = Instant::now();
    let fleet = Fleet::generate(n, 42);
    println!(
        "fleet generated in {:.1?}: {} batch_codes rows, {} distinct codes; P0000-00 in {:.1} % of batches",
        started.elapsed(),
        fleet.rows(),
        fleet.distinct_codes(),
        100.0 * fleet.share("P0000-00")
    );
    if backend == "both" || backend == "postgres" {
        runtime.block_on(postgres(&fleet));
    }
    if backend == "both" || backend == "sqlite" {
        runtime.block_on(sqlite(&fleet));
    }
    println!("\nload average at end: {}", loadavg());
}

// ---------------------------------------------------------------------------------------
// The fleet
// ---------------------------------------------------------------------------------------

/// SplitMix64: deterministic, no dependency on a generator's version.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Batch {
    id: String,
    vin: String,
    firmware: String,
    last_ts_ns: i64,
    codes: Vec<(String, i64)>,
    norm: f64,
}

struct Fleet {
    batches: Vec<Batch>,
}

impl Fleet {
    fn generate(n: usize, seed: u64) -> Self {
        let mut rng = Rng(seed);
        let common = [0.28, 0.15, 0.12, 0.09, 0.07, 0.05];
        let vins = (n as u64 / 20).max(1);
        let batches = (0..n)
            .map(|i| {
                let mut codes: Vec<String> = Vec::with_capacity(8);
                for (c, p) in common.iter().enumerate() {
                    if rng.unit() < *p {
                        codes.push(format!("P{c:04}-00"));
                    }
                }
                for _ in 0..1 + rng.below(5) {
                    let c = 6 + (3000f64.powf(rng.unit()) as u64).min(2999);
                    codes.push(format!("P{c:04}-00"));
                }
                codes.sort();
                codes.dedup();
                let codes: Vec<(String, i64)> =
                    codes.into_iter().map(|c| (c, 1 + (rng.unit().powi(3) * 300.0) as i64)).collect();
                let norm = codes.iter().map(|(_, n)| (*n as f64) * (*n as f64)).sum::<f64>().sqrt();
                let fw = (40.0 * rng.unit().powi(2)) as u64;
                Batch {
                    id: format!("batch-{i:08}"),
                    vin: format!("WVWZZZ1JZ{:08}", rng.below(vins)),
                    firmware: format!("fw-{fw:02}"),
                    last_ts_ns: YEAR_START_NS + (rng.unit() * 365.0 * DAY_NS as f64) as i64,
                    codes,
                    norm,
                }
            })
            .collect();
        Self { batches }
    }

    fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.codes.len()).sum()
    }

    fn distinct_codes(&self) -> usize {
        let mut codes: Vec<&str> =
            self.batches.iter().flat_map(|b| b.codes.iter().map(|c| c.0.as_str())).collect();
        codes.sort_unstable();
        codes.dedup();
        codes.len()
    }

    fn share(&self, code: &str) -> f64 {
        self.batches.iter().filter(|b| b.codes.iter().any(|c| c.0 == code)).count() as f64
            / self.batches.len() as f64
    }

    fn firmware_share(&self, fw: &str) -> f64 {
        self.batches.iter().filter(|b| b.firmware == fw).count() as f64 / self.batches.len() as f64
    }

    /// About `count` batches spread over the fleet: the lookups that warm the caches
    /// before the timed ones.
    fn warmup_sample(&self, count: usize) -> Vec<&Batch> {
        let step = (self.batches.len() / count.max(1)).max(2);
        self.batches.iter().skip(step / 2).step_by(step).take(count).collect()
    }

    /// Every 1/count-th batch holding (or not) the 28 % code.
    fn sample(&self, count: usize, with_common: bool) -> Vec<&Batch> {
        let pool: Vec<&Batch> = self
            .batches
            .iter()
            .filter(|b| b.codes.iter().any(|c| c.0 == "P0000-00") == with_common)
            .collect();
        let step = (pool.len() / count.max(1)).max(1);
        pool.into_iter().step_by(step).take(count).collect()
    }
}

// ---------------------------------------------------------------------------------------
// Seeding
// ---------------------------------------------------------------------------------------

fn admin_url() -> String {
    std::env::var("ARGUS_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:argus@127.0.0.1:5432/postgres".into())
}

fn keep() -> bool {
    std::env::var("ARGUS_BENCH_KEEP").is_ok_and(|v| v == "1")
}

async fn postgres(fleet: &Fleet) {
    let n = fleet.batches.len();
    let name = format!("argus_scale_{n}");
    let admin_url = admin_url();
    let mut admin =
        sqlx::PgConnection::connect(&admin_url).await.expect("postgres (run scripts/postgres.sh)");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .expect("pg_database");
    let url = format!("{}/{name}", &admin_url[..admin_url.rfind('/').expect("url with a database")]);
    let reuse = exists.is_some() && keep();
    if exists.is_some() && !reuse {
        admin.execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str()).await.expect("drop");
    }
    if !reuse {
        admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create");
    }
    let store = Store::open(&url).await.expect("open");
    store.migrate().await.expect("migrate");
    let seeded: i64 = {
        let Store::Postgres(pool) = &store else { unreachable!() };
        sqlx::query_scalar("SELECT COUNT(*) FROM batches").fetch_one(pool).await.expect("count")
    };
    if seeded as usize != n {
        let started = Instant::now();
        seed_postgres(&url, fleet).await;
        println!("\n## PostgreSQL: seeded {n} batches with COPY in {:.1?}", started.elapsed());
    } else {
        // A migration run just now may have filled new tables: their visibility map
        // decides whether the reads are index-only.
        let Store::Postgres(pool) = &store else { unreachable!() };
        pool.execute("VACUUM ANALYZE").await.expect("vacuum analyze");
        println!("\n## PostgreSQL: reusing {name} ({n} batches)");
    }
    {
        let Store::Postgres(pool) = &store else { unreachable!() };
        let size: String = sqlx::query_scalar("SELECT pg_size_pretty(pg_database_size(current_database()))")
            .fetch_one(pool)
            .await
            .expect("size");
        println!("database size {size}");
    }
    measure(&store, fleet).await;
    store.close().await;
    if !keep() {
        admin.execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str()).await.expect("drop");
    }
}

/// COPY text format: tab-separated, `\N` for null (no value here needs escaping).
async fn copy(conn: &mut sqlx::PgConnection, statement: &str, lines: impl Iterator<Item = String>) {
    let mut copy = conn.copy_in_raw(statement).await.expect("copy in");
    let mut buf = String::with_capacity(1 << 20);
    for line in lines {
        buf.push_str(&line);
        buf.push('\n');
        if buf.len() >= 1 << 20 {
            copy.send(buf.as_bytes()).await.expect("copy send");
            buf.clear();
        }
    }
    if !buf.is_empty() {
        copy.send(buf.as_bytes()).await.expect("copy send");
    }
    copy.finish().await.expect("copy finish");
}

async fn seed_postgres(url: &str, fleet: &Fleet) {
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
    // Triggers (the status guard, the foreign keys) are off for this session: the rows are
    // consistent by construction, and completed at once.
    conn.execute("SET session_replication_role = replica").await.expect("replica role");
    conn.execute("TRUNCATE batches CASCADE").await.expect("truncate");
    copy(
        &mut conn,
        "COPY batches (batch_id, status, vin, firmware, records, error_events, first_ts_ns, last_ts_ns, \
         code_norm, file_count, files_parsed) FROM STDIN",
        fleet.batches.iter().map(|b| {
            let events: i64 = b.codes.iter().map(|c| c.1).sum();
            format!(
                "{}\tcompleted\t{}\t{}\t{}\t{events}\t{}\t{}\t{}\t1\t1",
                b.id,
                b.vin,
                b.firmware,
                events * 3 + 10,
                b.last_ts_ns - 60_000_000_000,
                b.last_ts_ns,
                b.norm
            )
        }),
    )
    .await;
    copy(
        &mut conn,
        "COPY batch_codes (batch_id, code, events) FROM STDIN",
        fleet.batches.iter().flat_map(|b| b.codes.iter().map(move |(c, n)| format!("{}\t{c}\t{n}", b.id))),
    )
    .await;
    copy(
        &mut conn,
        "COPY completed_codes (batch_id, code, events, weight, vin, firmware, last_ts_ns) FROM STDIN",
        fleet.batches.iter().flat_map(|b| {
            b.codes.iter().map(move |(c, n)| {
                format!(
                    "{}\t{c}\t{n}\t{}\t{}\t{}\t{}",
                    b.id,
                    *n as f64 / b.norm,
                    b.vin,
                    b.firmware,
                    b.last_ts_ns
                )
            })
        }),
    )
    .await;
    conn.execute("SET session_replication_role = origin").await.expect("origin role");
    conn.close().await.expect("close");
    let store = Store::open(url).await.expect("open");
    store.rebuild_derived_tables().await.expect("derived tables");
    let Store::Postgres(pool) = &store else { unreachable!() };
    pool.execute("VACUUM ANALYZE").await.expect("vacuum analyze");
    store.close().await;
}

async fn sqlite(fleet: &Fleet) {
    let n = fleet.batches.len();
    let path = data_dir().join(format!("store-scale-{n}.db"));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    if !keep() || !path.exists() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
    let store = Store::open(&url).await.expect("open");
    store.migrate().await.expect("migrate");
    let seeded: i64 = {
        let Store::Sqlite(pool) = &store else { unreachable!() };
        sqlx::query_scalar("SELECT COUNT(*) FROM batches").fetch_one(pool).await.expect("count")
    };
    store.close().await;
    if seeded as usize != n {
        let started = Instant::now();
        seed_sqlite(&url, fleet).await;
        println!("\n## SQLite: seeded {n} batches in one transaction in {:.1?}", started.elapsed());
    } else {
        println!("\n## SQLite: reusing {} ({n} batches)", path.display());
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("database file {:.0} MB", size as f64 / 1e6);
    let store = Store::open(&url).await.expect("open");
    measure(&store, fleet).await;
    store.close().await;
    if !keep() {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

async fn seed_sqlite(url: &str, fleet: &Fleet) {
    // The store made the file WAL; it stays so (the load is one transaction).
    let mut conn = sqlx::SqliteConnection::connect(url).await.expect("connect");
    for pragma in ["PRAGMA synchronous = OFF", "PRAGMA cache_size = -1000000"] {
        conn.execute(pragma).await.expect(pragma);
    }
    // The triggers (the state machine, the final-batch guards of migration 0006) are
    // dropped for the load and put back as they were.
    let triggers: Vec<(String, String)> =
        sqlx::query_as("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            .fetch_all(&mut conn)
            .await
            .expect("triggers");
    let mut tx = conn.begin().await.expect("begin");
    for (name, _) in &triggers {
        tx.execute(format!("DROP TRIGGER {name}").as_str()).await.expect("drop trigger");
    }
    tx.execute("DELETE FROM batches").await.expect("delete");
    for chunk in fleet.batches.chunks(1000) {
        let mut sql = String::from(
            "INSERT INTO batches (batch_id, status, vin, firmware, records, error_events, first_ts_ns, \
             last_ts_ns, code_norm, file_count, files_parsed) VALUES ",
        );
        for (i, b) in chunk.iter().enumerate() {
            let events: i64 = b.codes.iter().map(|c| c.1).sum();
            let sep = if i == 0 { "" } else { ", " };
            write!(
                sql,
                "{sep}('{}', 'completed', '{}', '{}', {}, {events}, {}, {}, {:?}, 1, 1)",
                b.id,
                b.vin,
                b.firmware,
                events * 3 + 10,
                b.last_ts_ns - 60_000_000_000,
                b.last_ts_ns,
                b.norm
            )
            .expect("write");
        }
        tx.execute(sql.as_str()).await.expect("batches");
        let mut codes = String::from("INSERT INTO batch_codes (batch_id, code, events) VALUES ");
        let mut done = String::from(
            "INSERT INTO completed_codes (batch_id, code, events, weight, vin, firmware, last_ts_ns) VALUES ",
        );
        let mut first = true;
        for b in chunk {
            for (c, n) in &b.codes {
                let sep = if first { "" } else { ", " };
                first = false;
                write!(codes, "{sep}('{}', '{c}', {n})", b.id).expect("write");
                write!(
                    done,
                    "{sep}('{}', '{c}', {n}, {:?}, '{}', '{}', {})",
                    b.id,
                    *n as f64 / b.norm,
                    b.vin,
                    b.firmware,
                    b.last_ts_ns
                )
                .expect("write");
            }
        }
        tx.execute(codes.as_str()).await.expect("batch_codes");
        tx.execute(done.as_str()).await.expect("completed_codes");
    }
    for (_, sql) in &triggers {
        tx.execute(sql.as_str()).await.expect("trigger back");
    }
    tx.commit().await.expect("commit");
    conn.close().await.expect("close");
    let store = Store::open(url).await.expect("open");
    store.rebuild_derived_tables().await.expect("derived tables");
    let Store::Sqlite(pool) = &store else { unreachable!() };
    pool.execute("ANALYZE").await.expect("analyze");
    store.close().await;
}

// ---------------------------------------------------------------------------------------
// The baselines: the statements this branch replaced, as they were on main.
// ---------------------------------------------------------------------------------------

fn old_similar_sql(store: &Store) -> String {
    let collate = if let Store::Postgres(_) = store { " COLLATE \"C\"" } else { "" };
    format!(
        "SELECT o.batch_id, CAST(SUM(CAST(m.events AS DOUBLE PRECISION) * o.events) AS DOUBLE PRECISION) AS dot, \
         b.code_norm FROM batch_codes m JOIN batch_codes o ON o.code = m.code AND o.batch_id <> m.batch_id \
         JOIN batches b ON b.batch_id = o.batch_id \
         WHERE m.batch_id = $1 AND b.status = 'completed' AND b.code_norm > 0 \
         GROUP BY o.batch_id, b.code_norm \
         ORDER BY SUM(CAST(m.events AS DOUBLE PRECISION) * o.events) / b.code_norm DESC, o.batch_id{collate} \
         LIMIT 5"
    )
}

const OLD_FILTER: &str = "b.status = 'completed' \
    AND ($1 IS NULL OR b.last_ts_ns >= $1) AND ($2 IS NULL OR b.last_ts_ns < $2) \
    AND ($3 IS NULL OR b.vin = $3) AND ($4 IS NULL OR b.firmware = $4)";

fn old_fleet_sql(store: &Store) -> (String, String) {
    let collate = if let Store::Postgres(_) = store { " COLLATE \"C\"" } else { "" };
    (
        format!(
            "SELECT COUNT(*), CAST(COALESCE(SUM(b.records), 0) AS BIGINT), \
             CAST(COALESCE(SUM(b.error_events), 0) AS BIGINT) FROM batches b WHERE {OLD_FILTER}"
        ),
        format!(
            "SELECT c.code, CAST(SUM(c.events) AS BIGINT) AS events, COUNT(*) AS batches, \
             COUNT(DISTINCT b.vin) AS vins FROM batch_codes c JOIN batches b ON b.batch_id = c.batch_id \
             WHERE {OLD_FILTER} GROUP BY c.code ORDER BY events DESC, c.code{collate} LIMIT $5"
        ),
    )
}

/// The old similar search: ids in rank order, each with its cosine up to the query's own
/// norm (the dot product over the other batch's norm).
async fn old_similar(store: &Store, id: &str) -> Vec<(String, f64)> {
    let sql = old_similar_sql(store);
    let rows: Vec<(String, f64, f64)> = match store {
        Store::Postgres(pool) => sqlx::query_as(&sql).bind(id).fetch_all(pool).await,
        Store::Sqlite(pool) => sqlx::query_as(&sql).bind(id).fetch_all(pool).await,
    }
    .expect("old similar");
    rows.into_iter().map(|(id, dot, norm)| (id, dot / norm)).collect()
}

/// The old fleet statements: (batches, top codes).
async fn old_fleet(store: &Store, q: &FleetQuery) -> (i64, Vec<(String, i64, i64, i64)>) {
    let (totals_sql, top_sql) = old_fleet_sql(store);
    let from = q.window.map(|w| w.from_ns as i64);
    let to = q.window.map(|w| w.to_ns as i64);
    macro_rules! run {
        ($pool:expr) => {{
            let totals: (i64, i64, i64) = sqlx::query_as(&totals_sql)
                .bind(from)
                .bind(to)
                .bind(q.vin.as_deref())
                .bind(q.firmware.as_deref())
                .fetch_one($pool)
                .await
                .expect("old totals");
            let top = sqlx::query_as(&top_sql)
                .bind(from)
                .bind(to)
                .bind(q.vin.as_deref())
                .bind(q.firmware.as_deref())
                .bind(q.k as i64)
                .fetch_all($pool)
                .await
                .expect("old top");
            (totals.0, top)
        }};
    }
    match store {
        Store::Postgres(pool) => run!(pool),
        Store::Sqlite(pool) => run!(pool),
    }
}

/// The plan of an old statement with the values of a run: the id for the similar search
/// (`q` = None), or the fleet query's values.
async fn old_explain(store: &Store, sql: &str, id: &str, q: Option<&FleetQuery>) -> Vec<String> {
    use sqlx::Row;
    let (prefix, column) = match store {
        Store::Postgres(_) => ("EXPLAIN ", 0),
        Store::Sqlite(_) => ("EXPLAIN QUERY PLAN ", 3),
    };
    let text = format!("{prefix}{sql}");
    macro_rules! run {
        ($pool:expr) => {{
            let query = sqlx::query(&text);
            let query = match q {
                None => query.bind(id.to_owned()),
                Some(q) => query
                    .bind(q.window.map(|w| w.from_ns as i64))
                    .bind(q.window.map(|w| w.to_ns as i64))
                    .bind(q.vin.clone())
                    .bind(q.firmware.clone())
                    .bind(q.k as i64),
            };
            query
                .fetch_all($pool)
                .await
                .map(|rows| rows.iter().map(|r| r.get::<String, _>(column)).collect::<Vec<_>>())
        }};
    }
    match store {
        Store::Postgres(pool) => run!(pool),
        Store::Sqlite(pool) => run!(pool),
    }
    .unwrap_or_else(|e| vec![format!("(no plan: {e})")])
}

// ---------------------------------------------------------------------------------------
// Measuring
// ---------------------------------------------------------------------------------------

/// A fleet-query case: the i-th query of its iterations.
type MakeQuery<'a> = Box<dyn Fn(usize) -> FleetQuery + 'a>;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

struct Timing {
    what: String,
    new: Vec<Duration>,
    old: Vec<Duration>,
}

impl Timing {
    fn row(&mut self) -> Vec<String> {
        self.new.sort();
        self.old.sort();
        let (n50, n99) = (percentile(&self.new, 0.5), percentile(&self.new, 0.99));
        let (o50, o99) = (percentile(&self.old, 0.5), percentile(&self.old, 0.99));
        let ratio = |o: Duration, n: Duration| {
            if n.is_zero() || o.is_zero() {
                "-".to_owned()
            } else {
                format!("{:.0}×", o.as_secs_f64() / n.as_secs_f64())
            }
        };
        vec![
            self.what.clone(),
            self.new.len().to_string(),
            ms(n50),
            format!("**{}**", ms(n99)),
            self.old.len().to_string(),
            ms(o50),
            ms(o99),
            ratio(o50, n50),
            ratio(o99, n99),
        ]
    }
}

/// A plan's node lines, trimmed (Postgres: the lines naming a scan, join, sort or
/// aggregate; SQLite: every line).
fn summary(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| l.trim().trim_start_matches("->").trim())
        .filter(|l| {
            *l == "--"
                || [
                    "Scan",
                    "Join",
                    "Sort",
                    "Aggregate",
                    "Loop",
                    "SCAN",
                    "SEARCH",
                    "USE",
                    "Limit",
                    "Hash",
                    "Unique",
                ]
                .iter()
                .any(|k| l.contains(k))
        })
        .map(|l| l.split("  (cost").next().unwrap_or(l).to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

async fn measure(store: &Store, fleet: &Fleet) {
    let queries: usize = env_or("ARGUS_BENCH_QUERIES", 1000);
    let old_queries: usize = env_or("ARGUS_BENCH_OLD_QUERIES", 10);
    let mut rows = Vec::new();

    let warmup = fleet.warmup_sample(env_or("ARGUS_BENCH_WARMUP", 500));
    let started = Instant::now();
    for b in &warmup {
        let _ = store.similar_batches(&b.id).await.expect("similar");
    }
    println!("warm-up: {} similar lookups in {:.1?}", warmup.len(), started.elapsed());

    // Similar batches: for batches holding the 28 % code, and for others.
    let mut agree = (0, 0);
    let mut shortfalls: Vec<(f64, String)> = Vec::new();
    let similar_top = 5;
    for with_common in [true, false] {
        let sample = fleet.sample(queries, with_common);
        let mut t = Timing {
            what: format!(
                "similar batches, batch {} the 28 % code",
                if with_common { "with" } else { "without" }
            ),
            new: Vec::new(),
            old: Vec::new(),
        };
        for b in &sample {
            let started = Instant::now();
            let _ = store.similar_batches(&b.id).await.expect("similar");
            t.new.push(started.elapsed());
        }
        let _ = old_similar(store, &sample[0].id).await;
        for b in sample.iter().take(old_queries) {
            let started = Instant::now();
            let old = old_similar(store, &b.id).await;
            t.old.push(started.elapsed());
            let new = store.similar_batches(&b.id).await.expect("similar");
            agree.1 += 1;
            if new.iter().map(|s| &s.batch_id).eq(old.iter().map(|o| &o.0)) {
                agree.0 += 1;
            }
            // What a miss costs: how much lower the five found score than the exact five.
            let exact: f64 = old.iter().map(|o| o.1 / b.norm).sum();
            let found: f64 = new.iter().map(|s| s.score).sum();
            shortfalls.push(((exact - found) / similar_top as f64, b.id.clone()));
        }
        rows.push(t.row());
    }

    // Filtered fleet queries.
    let last = fleet.batches.iter().map(|b| b.last_ts_ns).max().unwrap_or(0);
    let week = TimeWindow { from_ns: (last - 7 * DAY_NS) as u64, to_ns: last as u64 + 1 };
    let quarter = TimeWindow { from_ns: (last - 90 * DAY_NS) as u64, to_ns: last as u64 + 1 };
    let vins: Vec<String> =
        fleet.batches.iter().step_by((fleet.batches.len() / queries).max(1)).map(|b| b.vin.clone()).collect();
    let mut firmware_shares: Vec<(String, f64)> = (0..40)
        .map(|i| format!("fw-{i:02}"))
        .map(|fw| {
            let s = fleet.firmware_share(&fw);
            (fw, s)
        })
        .collect();
    firmware_shares.sort_by(|a, b| b.1.total_cmp(&a.1));
    let largest = firmware_shares[0].clone();
    let typical = firmware_shares[firmware_shares.len() / 2].clone();
    let cases: Vec<(String, MakeQuery)> = vec![
        (
            "fleet by VIN, all time".into(),
            Box::new(|i| FleetQuery { vin: Some(vins[i % vins.len()].clone()), ..FleetQuery::all(10) }),
        ),
        (
            "fleet by VIN, last 90 days".into(),
            Box::new(|i| FleetQuery {
                vin: Some(vins[i % vins.len()].clone()),
                window: Some(quarter),
                ..FleetQuery::all(10)
            }),
        ),
        (
            format!("fleet by firmware {} ({:.1} % of batches), all time", largest.0, largest.1 * 100.0),
            Box::new(|_| FleetQuery { firmware: Some(largest.0.clone()), ..FleetQuery::all(10) }),
        ),
        (
            format!("fleet by firmware {}, last 7 days", largest.0),
            Box::new(|_| FleetQuery {
                firmware: Some(largest.0.clone()),
                window: Some(week),
                ..FleetQuery::all(10)
            }),
        ),
        (
            format!("fleet by firmware {}, last 90 days", largest.0),
            Box::new(|_| FleetQuery {
                firmware: Some(largest.0.clone()),
                window: Some(quarter),
                ..FleetQuery::all(10)
            }),
        ),
        (
            format!("fleet by firmware {} ({:.1} %), all time", typical.0, typical.1 * 100.0),
            Box::new(|_| FleetQuery { firmware: Some(typical.0.clone()), ..FleetQuery::all(10) }),
        ),
        (
            format!("fleet by firmware {}, last 7 days", typical.0),
            Box::new(|_| FleetQuery {
                firmware: Some(typical.0.clone()),
                window: Some(week),
                ..FleetQuery::all(10)
            }),
        ),
    ];
    let fleet_iters = queries.min(50);
    let mut equal = (0, 0);
    let mut plans = Vec::new();
    for (what, make) in &cases {
        let mut t = Timing { what: what.clone(), new: Vec::new(), old: Vec::new() };
        let _ = store.fleet_top_errors(&make(0)).await.expect("fleet");
        for i in 0..fleet_iters {
            let q = make(i);
            let started = Instant::now();
            let _ = store.fleet_top_errors(&q).await.expect("fleet");
            t.new.push(started.elapsed());
        }
        for i in 0..old_queries {
            let q = make(i);
            let started = Instant::now();
            let (batches, top) = old_fleet(store, &q).await;
            t.old.push(started.elapsed());
            let new = store.fleet_top_errors(&q).await.expect("fleet");
            let new_top: Vec<(String, i64, i64, i64)> = new
                .top_errors
                .iter()
                .map(|e| (e.code.clone(), e.count as i64, e.batches as i64, e.vins as i64))
                .collect();
            equal.1 += 1;
            if new.batches as i64 == batches && new_top == top {
                equal.0 += 1;
            }
        }
        plans
            .push((what.clone(), summary(&store.explain_fleet_top_errors(&make(0)).await.expect("explain"))));
        rows.push(t.row());
    }

    println!("\nbackend {:?}, load average {}", store.backend(), loadavg());
    print_table(
        &[
            "query",
            "n new",
            "new p50 ms",
            "new p99 ms",
            "n old",
            "old p50 ms",
            "old p99 ms",
            "p50 old/new",
            "p99 old/new",
        ],
        &rows,
    );
    println!(
        "\nsimilar batches: new = old (ids and order) in {} of {} lookups; fleet: new = old in {} of {} queries",
        agree.0, agree.1, equal.0, equal.1
    );
    shortfalls.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mean = shortfalls.iter().map(|s| s.0).sum::<f64>() / shortfalls.len().max(1) as f64;
    let (worst, worst_id) = shortfalls.last().cloned().unwrap_or_default();
    println!(
        "similar batches: the five found score on average {mean:.4} below the exact five (cosine, per batch; \
         median {:.4}, worst {worst:.4} for {worst_id})",
        shortfalls.get(shortfalls.len() / 2).map_or(0.0, |s| s.0),
    );
    println!("\nplans (new):");
    let example = &fleet.sample(1, true)[0].id;
    println!(
        "- similar batches ({example}): {}",
        summary(&store.explain_similar_batches(example).await.expect("explain"))
    );
    for (what, plan) in plans {
        println!("- {what}: {plan}");
    }
    println!("plans (old):");
    println!(
        "- similar batches: {}",
        summary(&old_explain(store, &old_similar_sql(store), example, None).await)
    );
    let (_, top) = old_fleet_sql(store);
    for (what, make) in cases.iter().take(3) {
        println!("- {what}, top codes: {}", summary(&old_explain(store, &top, "", Some(&make(0))).await));
    }
}
