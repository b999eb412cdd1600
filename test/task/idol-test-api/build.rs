fn main() -> Result<(), Box<dyn std::error::Error>> {
    build_util::idl::generate_client_stub("../../../idl/idol-test.idol", "client_stub.rs")
}
