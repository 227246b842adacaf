fn main() -> std::process::ExitCode {
    veilleur::install_crypto_provider();
    std::process::ExitCode::SUCCESS
}
