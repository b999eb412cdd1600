//! `cargo xtask sizes`: what each task and the kernel use of their regions, and what the
//! power-of-two rounding wastes.

use crate::Error;
use crate::dist::Dist;

pub fn print(d: &Dist) -> Result<(), Error> {
    let a = &d.allocation;
    println!(
        "{:<16} {:>10} {:>10} {:>10}   {:>10} {:>10} {:>10}",
        "", "flash", "used", "wasted", "ram", "used", "wasted"
    );
    println!(
        "{:<16} {:>10} {:>10} {:>10}   {:>10} {:>10} {:>10}",
        "kernel",
        a.kernel_flash.size,
        a.kernel_flash.size,
        0,
        a.kernel_ram.size,
        a.kernel_ram.size,
        0
    );
    let (mut fw, mut rw) = (0, 0);
    for t in &a.tasks {
        println!(
            "{:<16} {:>10} {:>10} {:>10}   {:>10} {:>10} {:>10}",
            t.name,
            t.layout.flash.size(),
            t.flash_used,
            t.flash_waste(),
            t.layout.ram.size(),
            t.ram_used,
            t.ram_waste()
        );
        fw += t.flash_waste();
        rw += t.ram_waste();
    }
    println!("total wasted: {fw} bytes of flash, {rw} bytes of RAM");
    Ok(())
}
