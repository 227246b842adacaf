// One allocator that hands freed pages back to the system: after an ingest
// burst glibc malloc keeps the peak resident (README, Performance).
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    veilleur::install_crypto_provider();
    veilleur::cli::main()
}
