//! The command line: `serve`, `demo`, `migrate`, `user add`, and the tools
//! for analysts and operators.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::app::{AppOptions, RunningApp, prepare_db};
use crate::config::Config;

#[derive(Debug, Parser)]
#[command(
    name = "podryad",
    version,
    about = "Podryad: a special-equipment brokerage system"
)]
struct Cli {
    /// Log as JSON lines (also PODRYAD_LOG_JSON=1).
    #[arg(long, global = true, env = "PODRYAD_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server and background workers.
    Serve(ServeArgs),
    /// Create (or reuse) the demo database with demo data and run the server.
    Demo(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Tokens for the JSON API.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Tools for workflow definitions.
    #[command(subcommand)]
    Workflows(WorkflowsCommand),
    /// Tools for document templates (contracts, work orders).
    #[command(subcommand)]
    Documents(DocumentsCommand),
    /// Benchmarks that print figures.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Bank files: statements in, payment orders out (1CClientBankExchange).
    #[command(subcommand)]
    Bank(BankCommand),
}

#[derive(Debug, Subcommand)]
enum BankCommand {
    /// Import a bank statement (1CClientBankExchange, windows-1251): match
    /// incoming payments to open invoices by the payer's INN, the invoice
    /// number in the purpose and the amount; queue the rest for the
    /// accountant. A line imported before is skipped.
    Import {
        /// The statement file.
        file: std::path::PathBuf,
        /// Print the matching without saving anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the bank payouts not yet sent as a file of payment orders for
    /// the bank (1CClientBankExchange, windows-1251).
    Payouts {
        /// Where to write the file.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum DocumentsCommand {
    /// Compile every built-in template against each of its samples; prints
    /// `file:line:column: problem` and exits 1 on errors.
    Check,
    /// Render one built-in template to a PDF file.
    Render {
        /// The template key (e.g. work_order_client); `documents check` lists them.
        template: String,
        /// Use the template's sample data, or one of its variants
        /// (`--sample passengers`).
        #[arg(long, num_args = 0..=1, default_missing_value = "", conflicts_with = "data")]
        sample: Option<String>,
        /// Use data from this JSON file.
        #[arg(long)]
        data: Option<std::path::PathBuf>,
        /// Where to write the PDF.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// What the token may do (repeat): requests:create, workflows:start,
        /// instances:read, events:emit, metrics. None: nothing.
        #[arg(long = "scope")]
        scopes: Vec<String>,
    },
    /// List tokens (without their secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: i64 },
}

#[derive(Debug, Subcommand)]
enum WorkflowsCommand {
    /// Check definition files; prints `file:line:column: problem` and exits 1 on errors.
    Check {
        /// YAML files or folders: workflows, `request_types/*.yaml`, `catalogue/*.yaml`
        /// and `calendar.yaml`, each checked by its own checker.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
    },
    /// List definitions with their active version and running instances.
    List,
    /// Print the fields of `object.*` per object kind as a Markdown table
    /// (the table in workflows/README.md is this output).
    Fields,
    /// Move running instances of a definition to another version.
    Migrate {
        /// The definition id (e.g. supplier_onboarding).
        key: String,
        /// Target version number.
        #[arg(long)]
        to: i64,
        /// Source version numbers (default: every other version).
        #[arg(long, value_delimiter = ',')]
        from: Vec<i64>,
        /// A state mapping `old=new`; repeat. States not listed keep their name,
        /// which must exist in the target version.
        #[arg(long = "map")]
        map: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// The workflow engine: starts/s, transitions/s, step latency, timer lag, idle CPU.
    /// Runs on a scratch database it creates and removes.
    Engine(EngineBenchArgs),
    /// Matching: p50/p99 per request over 10 000 suppliers and 100 000
    /// machines. Runs on a scratch database it creates and removes.
    Matching(MatchingBenchArgs),
    /// Documents: render time p50/p99 per template, cold and warm.
    Documents(DocumentsBenchArgs),
    /// The request funnel through HTTP as people use it: processes/s, p50/p99
    /// per step, database transactions and statements per step, server CPU.
    /// Runs on a scratch database it creates and removes.
    Funnel(FunnelBenchArgs),
    /// The staff's lists, inboxes, searches and home pages at a company's
    /// volume (requests, open tasks, a year of history): p50/p99 per page.
    /// Runs on a scratch database it creates and removes.
    Pages(PagesBenchArgs),
    /// A bank statement: the time to read, match and store N lines against
    /// open invoices on SQLite. Runs on a scratch database it creates and
    /// removes.
    Bank(BankBenchArgs),
}

#[derive(Debug, Args)]
struct PagesBenchArgs {
    /// Benchmark PostgreSQL: an administrative URL (a scratch database is
    /// created on that server). SQLite by default.
    #[arg(long)]
    postgres: Option<String>,
    /// Requests seeded (about three per client).
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    /// Open tasks: the newest requests, one task each, still in work.
    #[arg(long, default_value_t = 100_000)]
    tasks: usize,
    /// Days of history the requests are spread over.
    #[arg(long, default_value_t = 365)]
    history_days: i64,
    /// Timed fetches of each page.
    #[arg(long, default_value_t = 50)]
    runs: usize,
    /// The analysts' folder (workflows, request types, catalogue).
    #[arg(long, default_value = "workflows")]
    workflows: std::path::PathBuf,
}

#[derive(Debug, Args)]
struct BankBenchArgs {
    /// Lines in the statement (and open invoices to match them to).
    #[arg(long, default_value_t = 10_000)]
    lines: usize,
}

#[derive(Debug, Args)]
struct FunnelBenchArgs {
    /// Benchmark PostgreSQL: an administrative URL (a scratch database is
    /// created on that server). SQLite by default.
    #[arg(long)]
    postgres: Option<String>,
    /// Processes (a request filed through the API and its four tasks).
    #[arg(long, default_value_t = 400)]
    processes: usize,
    /// People working their inboxes at once (each owns a share of the requests).
    #[arg(long, default_value_t = 8)]
    people: usize,
    /// Processes under way at most (0: three per person).
    #[arg(long, default_value_t = 0)]
    window: usize,
    /// The analysts' folder to copy (its request.yaml is replaced by the bench funnel).
    #[arg(long, default_value = "workflows")]
    workflows: std::path::PathBuf,
}

#[derive(Debug, Args)]
struct DocumentsBenchArgs {
    /// Renders per template with the cache emptied before each.
    #[arg(long, default_value_t = 20)]
    cold: usize,
    /// Renders per template with a warm cache.
    #[arg(long, default_value_t = 200)]
    warm: usize,
}

#[derive(Debug, Args)]
struct MatchingBenchArgs {
    /// Benchmark PostgreSQL: an administrative URL (a scratch database is
    /// created on that server). SQLite by default.
    #[arg(long)]
    postgres: Option<String>,
    #[arg(long, default_value_t = 10_000)]
    suppliers: usize,
    #[arg(long, default_value_t = 100_000)]
    machines: usize,
    #[arg(long, default_value_t = 400)]
    requests: usize,
    /// Towns the machines' bases are spread over; 0 crowds them around 24
    /// regional centres (the densest case).
    #[arg(long, default_value_t = 240)]
    towns: usize,
}

#[derive(Debug, Args)]
struct EngineBenchArgs {
    /// Benchmark PostgreSQL: an administrative URL (a scratch database is
    /// created on that server); also runs `pgbench -N` for comparison.
    #[arg(long)]
    postgres: Option<String>,
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    #[arg(long, default_value_t = 2_000)]
    instances: usize,
    #[arg(long, default_value_t = 40_000)]
    transitions: usize,
    /// Pending far-future timers while timer lag is measured.
    #[arg(long, default_value_t = 100_000)]
    timers: usize,
    #[arg(long, default_value_t = 300)]
    timer_probes: usize,
    #[arg(long, default_value_t = 5)]
    idle_seconds: u64,
    #[arg(long, default_value_t = 20)]
    pgbench_seconds: u64,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (also PODRYAD_BIND); default 127.0.0.1:8080.
    #[arg(long)]
    bind: Option<std::net::SocketAddr>,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user to the broker's staff (e.g. the first admin).
    Add(UserAddArgs),
}

#[derive(Debug, Args)]
struct UserAddArgs {
    #[arg(long)]
    name: String,
    #[arg(long, default_value = "")]
    email: String,
    #[arg(long, default_value = "")]
    phone: String,
    /// A staff role; repeat for several: admin, hunter, manager, operator, accountant, analyst.
    #[arg(long = "role", required = true)]
    roles: Vec<String>,
    /// The password (at least 8 characters); also PODRYAD_USER_PASSWORD.
    #[arg(long, env = "PODRYAD_USER_PASSWORD", hide_env_values = true)]
    password: String,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Bench(BenchCommand::Funnel(_))) {
        crate::telemetry::init_logs_counting_sql();
    } else {
        crate::telemetry::init_logs(cli.log_json);
    }
    crate::app::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => {
            let mut config = Config::from_env(false)?;
            if let Some(bind) = args.bind {
                config.bind = bind;
            }
            serve(config).await
        }
        Command::Demo(args) => {
            let mut config = Config::from_env(true)?;
            if let Some(bind) = args.bind {
                config.bind = bind;
            }
            let db = prepare_db(&config, None).await?;
            let created = crate::demo::seed(&db).await?;
            db.close().await;
            println!(
                "Demo data ready ({created} new accounts). Password for every demo account: {}",
                crate::demo::DEMO_PASSWORD
            );
            let app = RunningApp::start(config, AppOptions::default()).await?;
            // Deals under way for the cabinets to show; a demo without them
            // still works, so a failure is only reported.
            if let Err(e) = crate::demo::seed_deals(&app.services).await {
                tracing::warn!(error = %e, "demo deals were not created");
            }
            if let Err(e) = crate::demo::seed_orders(&app.services).await {
                tracing::warn!(error = %e, "demo orders were not created");
            }
            if let Err(e) = crate::demo::seed_money(&app.services).await {
                tracing::warn!(error = %e, "demo money was not created");
            }
            println!("Podryad is running at {}", app.base_url);
            app.run_until_signal().await;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate => {
            let config = Config::from_env(false)?;
            let db = prepare_db(&config, None).await?;
            db.close().await;
            println!("Migrations applied.");
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Add(args)) => user_add(args).await,
        Command::Workflows(cmd) => workflows(cmd).await,
        Command::Token(cmd) => token(cmd).await,
        Command::Bench(BenchCommand::Engine(args)) => bench_engine(args).await,
        Command::Bench(BenchCommand::Matching(args)) => bench_matching(args).await,
        Command::Bench(BenchCommand::Documents(args)) => {
            let opts = crate::bench::documents::Options {
                cold_runs: args.cold.max(1),
                warm_runs: args.warm.max(1),
            };
            let report =
                tokio::task::spawn_blocking(move || crate::bench::documents::run(&opts)).await??;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Documents(cmd) => documents_command(cmd).await,
        Command::Bench(BenchCommand::Pages(args)) => {
            let report = crate::bench::pages::run(&crate::bench::pages::PagesOptions {
                postgres: args.postgres,
                requests: args.requests,
                tasks: args.tasks,
                history_days: args.history_days,
                runs: args.runs,
                workflows: args.workflows,
            })
            .await?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Bank(cmd) => bank(cmd).await,
        Command::Bench(BenchCommand::Bank(args)) => {
            let (url, cleanup) = crate::bench::scratch_database(None).await?;
            let db = engine::Db::connect(&url, &engine::DbOptions::default()).await?;
            crate::migrations::run(&db).await?;
            let result = crate::bench::bank::run(
                &db,
                &crate::bench::bank::Options {
                    lines: args.lines.max(1),
                },
            )
            .await;
            db.close().await;
            cleanup().await;
            println!("{}", result?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(BenchCommand::Funnel(args)) => {
            let report = crate::bench::funnel::run(&crate::bench::funnel::FunnelOptions {
                processes: args.processes,
                people: args.people,
                postgres: args.postgres,
                workflows: args.workflows,
                window: args.window,
            })
            .await?;
            println!("{report}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let app = RunningApp::start(config, AppOptions::default()).await?;
    println!("Podryad is running at {}", app.base_url);
    app.run_until_signal().await;
    Ok(ExitCode::SUCCESS)
}

async fn user_add(args: UserAddArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(false)?;
    let db = prepare_db(&config, None).await?;
    let broker = domain::parties::orgs::ensure_broker(&db).await?;
    let input = domain::accounts::UserInput {
        full_name: args.name,
        email: args.email,
        phone: args.phone,
        roles: args.roles,
        password: args.password,
    };
    let user = match input.validate(domain::access::roles::OrgKind::Broker).await {
        Ok(u) if u.password.is_some() => u,
        Ok(_) => {
            eprintln!(
                "password: required (at least {} characters)",
                domain::accounts::MIN_PASSWORD_LEN
            );
            return Ok(ExitCode::from(2));
        }
        Err(domain::error::DomainError::Invalid(errors)) => {
            for e in errors.0 {
                eprintln!("{}: {}", e.field, e.code);
            }
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(e.into()),
    };
    let mut tx = db.begin().await?;
    match domain::accounts::insert_user(&mut tx, db.now(), broker, &user).await {
        Ok(id) => {
            tx.commit().await?;
            println!("User {id} created.");
            Ok(ExitCode::SUCCESS)
        }
        Err(domain::error::DomainError::Invalid(errors)) => {
            for e in errors.0 {
                eprintln!("{}: {}", e.field, e.code);
            }
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

/// An engine with everything the brokerage registers, on the configured
/// database (used by the analysts' tools). Its actions get the same
/// services the server gives them: moving an instance reopens its tasks,
/// and the actions that announce a task must not refuse as if the
/// application were still starting. Messages they queue are delivered by
/// the running server.
async fn tool_engine(config: &Config) -> anyhow::Result<(engine::Db, engine::Engine)> {
    let db = prepare_db(config, None).await?;
    let catalogues = crate::workflows::Catalogues::load(&config.workflows_dir)?;
    let cell: domain::services::ServicesCell = std::sync::Arc::new(std::sync::OnceLock::new());
    let engine = domain::engine_builder(db.clone(), cell.clone())
        .calendars(catalogues.calendars.clone())
        .timezone(config.timezone)
        .build();
    let connectors = connectors::Connectors::from_env()?;
    let _ = cell.set(domain::services::Services {
        db: db.clone(),
        engine: engine.clone(),
        files: domain::files::Files::local(&config.files_dir),
        registry: connectors.registry.clone(),
        geocoder: connectors.geocoder.clone(),
        texts: std::sync::Arc::new(web::i18n::Catalogue::russian()?),
        equipment: std::sync::Arc::new(catalogues.equipment),
        request_types: std::sync::Arc::new(catalogues.request_types),
        base_url: config.base_url.trim_end_matches('/').to_string(),
        notifier: None,
        edo: connectors.edo.clone(),
    });
    Ok((db, engine))
}

async fn workflows(cmd: WorkflowsCommand) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(false)?;
    let (db, engine) = tool_engine(&config).await?;
    let code = match cmd {
        WorkflowsCommand::Check { files } => {
            let diagnostics = crate::workflows::check(&files, engine.vocabulary());
            for d in &diagnostics {
                println!("{d}");
            }
            if diagnostics.is_empty() {
                println!("Ошибок нет.");
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        WorkflowsCommand::Fields => {
            let texts = web::i18n::Catalogue::russian()?;
            let kinds = web::guide::object_fields(&engine.vocabulary().object_fields, &texts);
            print!("{}", web::guide::markdown(&kinds));
            ExitCode::SUCCESS
        }
        WorkflowsCommand::List => {
            engine
                .load_dir(&config.workflows_dir, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for d in engine.list_definitions().await? {
                let active = d
                    .active
                    .as_ref()
                    .map(|v| format!("v{}", v.version))
                    .unwrap_or_else(|| "-".into());
                println!(
                    "{:<32} {:<8} versions: {:<3} running: {:<6} {}",
                    d.key, active, d.versions, d.running_instances, d.title
                );
            }
            ExitCode::SUCCESS
        }
        WorkflowsCommand::Migrate { key, to, from, map } => {
            let mut state_map = std::collections::BTreeMap::new();
            for m in &map {
                let (a, b) = m
                    .split_once('=')
                    .ok_or_else(|| anyhow::anyhow!("--map takes old=new, got {m:?}"))?;
                state_map.insert(a.trim().to_string(), b.trim().to_string());
            }
            // The engine takes version *numbers* (1, 2, …), not the rows'
            // ids: passing ids made every real migration fail with
            // "has no version N". It also reports unknown versions itself.
            let from_versions: Vec<i64> = if from.is_empty() {
                engine
                    .list_versions(&key)
                    .await?
                    .iter()
                    .map(|v| v.version)
                    .filter(|v| *v != to)
                    .collect()
            } else {
                from
            };
            match engine
                .migrate_instances(&key, &from_versions, to, &state_map, None)
                .await
            {
                Ok(report) => {
                    println!("Moved {} instance(s) to {key} v{to}.", report.moved);
                    for (change, n) in &report.by_state {
                        println!("  {change}: {n}");
                    }
                    ExitCode::SUCCESS
                }
                Err(engine::EngineError::Migration(problems)) => {
                    eprintln!("Перенос невозможен, ничего не изменено:");
                    for p in problems {
                        eprintln!("  {p}");
                    }
                    ExitCode::from(1)
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    db.close().await;
    Ok(code)
}

async fn documents_command(cmd: DocumentsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DocumentsCommand::Check => {
            let (problems, checked) = tokio::task::spawn_blocking(check_documents).await?;
            for p in &problems {
                println!("{p}");
            }
            let errors = problems
                .iter()
                .filter(|p| p.severity == documents::Severity::Error)
                .count();
            if errors == 0 {
                println!("{checked} template(s) with their samples: no problems.");
                Ok(ExitCode::SUCCESS)
            } else {
                println!("{errors} problem(s).");
                Ok(ExitCode::from(1))
            }
        }
        DocumentsCommand::Render {
            template,
            sample,
            data,
            out,
        } => {
            let Some(b) = documents::builtin::get(&template) else {
                let keys: Vec<&str> = documents::builtin::ALL.iter().map(|b| b.key).collect();
                eprintln!("unknown template {template:?}; known: {}", keys.join(", "));
                return Ok(ExitCode::from(2));
            };
            let data: serde_json::Value = match (sample, data) {
                (_, Some(path)) => serde_json::from_slice(&std::fs::read(&path)?)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                (Some(variant), None) => {
                    let file = if variant.is_empty() {
                        b.sample_file()
                    } else {
                        format!("{}.{variant}.sample.json", b.key)
                    };
                    match b.samples().into_iter().find(|(f, _)| *f == file) {
                        Some((_, data)) => data?,
                        None => {
                            eprintln!("{template} has no sample {file}");
                            return Ok(ExitCode::from(2));
                        }
                    }
                }
                (None, None) => {
                    eprintln!("say what to render: --sample [VARIANT] or --data FILE.json");
                    return Ok(ExitCode::from(2));
                }
            };
            let t = b.template();
            match tokio::task::spawn_blocking(move || documents::render(&t, &data)).await? {
                Ok(r) => {
                    std::fs::write(&out, &r.pdf)?;
                    for w in &r.warnings {
                        eprintln!("{w}");
                    }
                    println!(
                        "{}: {} page(s), {} bytes, sha256 {}",
                        out.display(),
                        r.pages,
                        r.pdf.len(),
                        r.sha256
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

/// Every built-in template against each of its samples: the problems (each
/// noting the sample it showed with) and how many templates were checked.
/// One broken template does not stop the others.
fn check_documents() -> (Vec<documents::Diagnostic>, usize) {
    let mut problems: Vec<documents::Diagnostic> = Vec::new();
    for b in documents::builtin::ALL {
        for (file, data) in b.samples() {
            let found = match data {
                Ok(data) => documents::check(&b.template(), &data),
                Err(e) => vec![documents::Diagnostic {
                    template: b.key.to_string(),
                    file: file.clone(),
                    line: e.line() as u32,
                    column: e.column() as u32,
                    severity: documents::Severity::Error,
                    message: e.to_string(),
                    hints: Vec::new(),
                }],
            };
            for mut d in found {
                if d.file != file {
                    d.hints.push(format!("with {file}"));
                }
                problems.push(d);
            }
        }
    }
    (problems, documents::builtin::ALL.len())
}

async fn bench_engine(args: EngineBenchArgs) -> anyhow::Result<ExitCode> {
    let opts = engine::bench::BenchOptions {
        concurrency: args.concurrency,
        instances: args.instances,
        transitions: args.transitions,
        pending_timers: args.timers,
        timer_probes: args.timer_probes,
        idle_seconds: args.idle_seconds,
    };
    let (url, cleanup) = crate::bench::scratch_database(args.postgres.as_deref()).await?;
    let db = engine::Db::connect(
        &url,
        &engine::DbOptions {
            max_connections: (args.concurrency as u32).max(4) + 4,
            ..Default::default()
        },
    )
    .await?;
    crate::migrations::run(&db).await?;
    let result = engine::bench::run_with_pgbench(&db, &url, &opts, args.pgbench_seconds).await;
    db.close().await;
    cleanup().await;
    let report = result?;
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}

async fn bench_matching(args: MatchingBenchArgs) -> anyhow::Result<ExitCode> {
    crate::app::install_crypto_provider();
    let (url, cleanup) = crate::bench::scratch_database(args.postgres.as_deref()).await?;
    let db = engine::Db::connect(&url, &engine::DbOptions::default()).await?;
    crate::migrations::run(&db).await?;
    let result = async {
        let catalogue = crate::workflows::Catalogues::load(std::path::Path::new("workflows"))?;
        let cell: domain::services::ServicesCell = std::sync::Arc::new(std::sync::OnceLock::new());
        let engine = domain::engine_builder(db.clone(), cell.clone()).build();
        let files =
            std::env::temp_dir().join(format!("podryad-bench-files-{}", std::process::id()));
        let services = domain::services::Services {
            db: db.clone(),
            engine,
            files: domain::files::Files::local(&files),
            registry: connectors::Connectors::offline().registry,
            geocoder: connectors::Connectors::offline().geocoder,
            texts: std::sync::Arc::new(domain::texts::KeyTexts),
            equipment: std::sync::Arc::new(catalogue.equipment),
            request_types: std::sync::Arc::new(catalogue.request_types),
            base_url: String::new(),
            notifier: None,
            edo: connectors::EdoOperators::none(),
        };
        let _ = cell.set(services.clone());
        let opts = crate::bench::matching::BenchOptions {
            suppliers: args.suppliers,
            machines: args.machines,
            requests: args.requests,
            towns: args.towns,
        };
        let report = crate::bench::matching::run(&services, &opts).await?;
        let _ = std::fs::remove_dir_all(files);
        anyhow::Ok(report)
    }
    .await;
    db.close().await;
    cleanup().await;
    println!("{}", result?);
    Ok(ExitCode::SUCCESS)
}

/// `podryad bank …`, as the system on the configured database; texts from
/// the message catalogue.
async fn bank(cmd: BankCommand) -> anyhow::Result<ExitCode> {
    use domain::access::{Acting, SystemActor};
    use domain::args;
    use domain::money::import::{self, ImportError, Outcome};
    use domain::texts::Texts;

    let config = Config::from_env(false)?;
    let texts = web::i18n::Catalogue::russian()?;
    let db = prepare_db(&config, None).await?;
    let system = SystemActor::new();
    let who = Acting::System(&system);
    let code = match cmd {
        BankCommand::Import { file, dry_run } => {
            let bytes =
                std::fs::read(&file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match import::import(&db, who, &name, &bytes, dry_run).await {
                Ok(report) => {
                    for l in &report.lines {
                        let head = texts.text(
                            "bank-import-line",
                            &args![
                                "line" => l.line,
                                "number" => l.number,
                                "date" => l.date.format("%d.%m.%Y"),
                                "amount" => l.amount,
                                "payer" => l.payer_name,
                                "inn" => l.payer_inn,
                            ],
                        );
                        println!("{head}");
                        match &l.outcome {
                            Outcome::Applied {
                                applied, unapplied, ..
                            } => {
                                for a in applied {
                                    println!(
                                        "    {}",
                                        texts.text(
                                            "bank-import-applied",
                                            &args!["invoice" => a.number, "amount" => a.amount]
                                        )
                                    );
                                }
                                if unapplied.0 > 0 {
                                    println!(
                                        "    {}",
                                        texts.text(
                                            "bank-import-unapplied",
                                            &args!["amount" => unapplied]
                                        )
                                    );
                                }
                            }
                            Outcome::Queued { reason } => println!(
                                "    {}",
                                texts.text(
                                    "bank-import-queued",
                                    &args!["reason" => reason.as_str()]
                                )
                            ),
                            Outcome::Duplicate => {
                                println!("    {}", texts.text("bank-import-duplicate", &args![]))
                            }
                            Outcome::Outgoing => {
                                println!("    {}", texts.text("bank-import-outgoing", &args![]))
                            }
                        }
                    }
                    println!(
                        "{}",
                        texts.text(
                            "bank-import-summary",
                            &args![
                                "total" => report.lines.len(),
                                "applied" => report.applied(),
                                "queued" => report.queued(),
                                "duplicates" => report.duplicates(),
                                "outgoing" => report.outgoing(),
                            ]
                        )
                    );
                    let done = if dry_run {
                        "bank-import-dry-run"
                    } else {
                        "bank-import-saved"
                    };
                    println!("{}", texts.text(done, &args![]));
                    ExitCode::SUCCESS
                }
                Err(ImportError::File(e)) => {
                    eprintln!(
                        "{}",
                        texts.text("bank-import-file-error", &args!["file" => file.display()])
                    );
                    eprintln!("{}", e.describe(&texts));
                    ExitCode::from(2)
                }
                Err(ImportError::Domain(e)) => return Err(e.into()),
            }
        }
        BankCommand::Payouts { out } => {
            match domain::money::payouts::payment_orders(&db, who, &texts).await? {
                Some(bytes) => {
                    std::fs::write(&out, &bytes)?;
                    println!(
                        "{}",
                        texts.text(
                            "bank-payouts-written",
                            &args!["file" => out.display(), "bytes" => bytes.len()]
                        )
                    );
                }
                None => println!("{}", texts.text("bank-payouts-none", &args![])),
            }
            ExitCode::SUCCESS
        }
    };
    db.close().await;
    Ok(code)
}

async fn token(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let config = Config::from_env(false)?;
    let db = prepare_db(&config, None).await?;
    match cmd {
        TokenCommand::Create { name, scopes } => {
            let (id, secret) =
                match domain::accounts::api_tokens::create(&db, None, &name, &scopes).await {
                    Ok(t) => t,
                    Err(domain::error::DomainError::Invalid(_)) => {
                        let known: Vec<&str> = domain::accounts::api_tokens::Scope::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect();
                        anyhow::bail!("unknown scope; known scopes: {}", known.join(", "));
                    }
                    Err(e) => return Err(e.into()),
                };
            eprintln!("Token {id} created; keep it now, it is not shown again:");
            println!("{secret}");
        }
        TokenCommand::List => {
            for t in domain::accounts::api_tokens::list(&db).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let scopes = if t.scopes.is_empty() {
                    "(no scopes)"
                } else {
                    t.scopes.as_str()
                };
                println!("{:>5}  {:<8} {}  [{}]", t.id, state, t.name, scopes);
            }
        }
        TokenCommand::Revoke { id } => {
            domain::accounts::api_tokens::revoke(&db, id).await?;
            println!("Token {id} revoked.");
        }
    }
    db.close().await;
    Ok(ExitCode::SUCCESS)
}
