fn main() -> std::process::ExitCode {
    veilleur::install_crypto_provider();
    veilleur::cli::main()
}
