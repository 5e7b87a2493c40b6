//! `embed_migrations!` reads the migration folders at compile time but does
//! not tell cargo about them: rebuild when a migration is added or changed.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
