//! Figures for the MSC path: simulated bus transactions and host CPU time per MiB read
//! through the real HCD, USB core and MSC driver against the model.
//!
//! `cargo run -p usb-stack-tests --example msc_figures --release`

use std::cell::RefCell;
use std::time::Instant;
use usb_class_msc::MassStorage;
use usb_core_logic::{DriverKind, UsbCore};
use usb_model::Dwc2Model;
use usb_model::flash::{self, FlashFaults};
use usb_stack_tests::SimHost;

const MIB: usize = 1 << 20;

fn main() {
    let mut disk = vec![0u8; MIB + 64 * 1024];
    for (i, b) in disk.iter_mut().enumerate() {
        *b = (i * 31 % 251) as u8;
    }
    let mut drive = flash::flash_drive(&mut disk, FlashFaults::default());
    let model = RefCell::new(Dwc2Model::new());
    model.borrow_mut().attach(&mut drive);
    let mut host = SimHost::new(&model);
    let mut core = UsbCore::new();
    core.poll_root(&mut host)
        .expect("connected")
        .expect("enumerated");
    let (binding, _) = core
        .bindings()
        .find(|(_, d)| *d == DriverKind::MassStorage)
        .expect("bound");
    let mut config = [0u8; usb_core_logic::CONFIG_BUF];
    let info = core.binding_info(binding, &mut config).unwrap();
    let parsed = usb_proto::walk::parse_configuration(
        &config[..info.config_len],
        info.config_len as u16,
        info.speed,
    )
    .unwrap();
    let mut msc = MassStorage::attach(&parsed, info.first_interface).unwrap();
    msc.bring_up(&mut core.port(&mut host, binding).unwrap())
        .unwrap();

    let mut buf = vec![0u8; MIB];
    let before = model.borrow().stats();
    let (t0, irqs0) = (model.borrow().now_us(), host.irqs);
    let cpu = Instant::now();
    msc.read(&mut core.port(&mut host, binding).unwrap(), 0, &mut buf)
        .unwrap();
    let cpu = cpu.elapsed();
    let after = model.borrow().stats();
    assert!(buf[..] == drive_bytes(MIB));
    println!(
        "MSC read of 1 MiB ({} blocks of 512 B, {} READ(10) commands):",
        MIB / 512,
        MIB / 512 / 64
    );
    println!(
        "  bus transactions      {}",
        after.transactions - before.transactions
    );
    println!("  of which NAKed        {}", after.naks - before.naks);
    println!(
        "  IN payload bytes      {}",
        after.bytes_in - before.bytes_in
    );
    println!("  controller interrupts {}", host.irqs - irqs0);
    println!(
        "  simulated bus time    {:.3} s",
        (model.borrow().now_us() - t0) as f64 / 1e6
    );
    println!("  host CPU time         {:.3} s", cpu.as_secs_f64());
    println!(
        "  model violations      {}",
        model.borrow().violation_count()
    );
}

fn drive_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}
