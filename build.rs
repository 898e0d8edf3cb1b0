// Rebuild when migrations change: `sqlx::migrate!` (src/migrations.rs) embeds
// them at compile time.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
