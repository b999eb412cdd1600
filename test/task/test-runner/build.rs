fn main() -> Result<(), Box<dyn std::error::Error>> {
    build_util::idl::generate_server_stub("../../../idl/test-runner.idol", "server_stub.rs")
}
