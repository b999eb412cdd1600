//! Generates the `Sys` server stub from `idl/stm32xx-sys.idol`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    build_util::idl::generate_server_stub("../../idl/stm32xx-sys.idol", "server_stub.rs")
}
