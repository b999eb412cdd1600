//! What `usb-hcd`'s board backend (feature `mmio`: `dwc2_regs::MmioRegs` over OTG2's
//! window) relies on, checked against the model, since no board runs here:
//!
//! - the register accesses reaching the controller are the same whichever backend carries
//!   them: `MmioRegs` makes one access per register and per FIFO word (the `Dwc2Regs`
//!   defaults), `IpcRegs` carries the FIFO in chunks of up to 256 words that `usb-sim`
//!   replays word by word; the trace of init, a root-port reset and a descriptor read is
//!   compared access for access;
//! - the fence at every start (doc/usb-host.md 5.3 item 4): the core's interrupt is masked
//!   before anything else is written, the core is soft-reset and its FIFOs flushed before
//!   any interrupt is unmasked, and a new incarnation's init takes over a controller left
//!   mid-transfer;
//! - the slave-mode tripwire: `DMAEN` set behind the driver's back is seen, and the next
//!   init clears it.

use std::cell::RefCell;

use dwc2_hcd_core::{BufferFault, Clock, Hcd, Request, TransferBuffers};
use dwc2_regs::{self as regs, Dwc2Regs};
use usb_host_api::{PipeId, SetupPacket, Speed};
use usb_model::{Dwc2Model, hid};
use usb_proto::descriptor::ty;
use usb_stack_tests::ep0_spec;

/// One access as the controller saw it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Access {
    Read(u32, u32),
    Write(u32, u32),
}

/// The model's registers, every access logged. `fifo_chunk`: `None` is `MmioRegs`'s shape
/// (the trait's per-word FIFO defaults); `Some(n)` is `IpcRegs`'s (FIFO calls of up to `n`
/// words, which `usb-sim` serves one model access per word).
struct Logged<'m, 'd> {
    model: &'m RefCell<Dwc2Model<'d>>,
    log: RefCell<Vec<Access>>,
    fifo_chunk: Option<usize>,
}

impl Dwc2Regs for Logged<'_, '_> {
    fn read(&self, offset: u32) -> u32 {
        let value = self.model.borrow_mut().read(offset);
        self.log.borrow_mut().push(Access::Read(offset, value));
        value
    }

    fn write(&self, offset: u32, value: u32) {
        self.log.borrow_mut().push(Access::Write(offset, value));
        self.model.borrow_mut().write(offset, value);
    }

    fn fifo_read(&self, dst: &mut [u32]) {
        match self.fifo_chunk {
            None => dst.iter_mut().for_each(|w| *w = self.read(regs::fifo(0))),
            Some(n) => {
                for chunk in dst.chunks_mut(n) {
                    chunk.iter_mut().for_each(|w| *w = self.read(regs::fifo(0)));
                }
            }
        }
    }

    fn fifo_write(&self, channel: u8, src: &[u32]) {
        match self.fifo_chunk {
            None => src.iter().for_each(|&w| self.write(regs::fifo(channel), w)),
            Some(n) => {
                for chunk in src.chunks(n) {
                    chunk
                        .iter()
                        .for_each(|&w| self.write(regs::fifo(channel), w));
                }
            }
        }
    }
}

struct Time<'m, 'd>(&'m RefCell<Dwc2Model<'d>>);

impl Clock for Time<'_, '_> {
    fn now_us(&self) -> u64 {
        self.0.borrow().now_us()
    }
    fn delay_us(&self, us: u32) {
        self.0.borrow_mut().advance(u64::from(us));
    }
}

/// The IN buffer of the one transfer, as a lease.
struct Buf<'a>(PipeId, &'a mut [u8]);

impl TransferBuffers for Buf<'_> {
    fn read_out(&mut self, _: PipeId, _: usize, _: &mut [u8]) -> Result<(), BufferFault> {
        Err(BufferFault)
    }
    fn write_in(&mut self, pipe: PipeId, offset: usize, src: &[u8]) -> Result<(), BufferFault> {
        if pipe != self.0 {
            return Err(BufferFault);
        }
        let dst = self
            .1
            .get_mut(offset..offset + src.len())
            .ok_or(BufferFault)?;
        dst.copy_from_slice(src);
        Ok(())
    }
}

type BoardHcd<'m, 'd> = Hcd<Logged<'m, 'd>, Time<'m, 'd>>;

fn driver<'m, 'd>(
    model: &'m RefCell<Dwc2Model<'d>>,
    fifo_chunk: Option<usize>,
) -> BoardHcd<'m, 'd> {
    let regs = Logged {
        model,
        log: RefCell::new(Vec::new()),
        fifo_chunk,
    };
    Hcd::new(regs, Time(model))
}

/// Lets `us` of model time pass, serving the interrupt as `usb-hcd` serves its notification.
fn run_for(
    hcd: &mut BoardHcd<'_, '_>,
    model: &RefCell<Dwc2Model<'_>>,
    bufs: &mut impl TransferBuffers,
    us: u64,
) {
    let until = model.borrow().now_us() + us;
    while model.borrow().now_us() < until {
        if !model.borrow_mut().step() {
            model.borrow_mut().idle_until(until);
        }
        if model.borrow().irq_pending() {
            hcd.on_irq(bufs);
        }
        hcd.service(bufs);
    }
}

/// Starts an 18-byte device-descriptor read on a new EP0 pipe.
fn start_descriptor_read(hcd: &mut BoardHcd<'_, '_>) -> PipeId {
    let pipe = hcd.open_pipe(ep0_spec(Speed::Low)).expect("a pipe");
    let setup = SetupPacket::get_descriptor(ty::DEVICE, 0, 0, 18);
    hcd.submit(pipe, Request::Control { setup }, 500)
        .expect("submitted");
    pipe
}

/// Init, the root-port reset, and one device-descriptor read: the board's bring-up of a
/// freshly plugged keyboard. Returns the accesses and the descriptor.
fn bring_up(fifo_chunk: Option<usize>) -> (Vec<Access>, [u8; 18]) {
    let mut kbd = hid::keyboard(&[]);
    let model = RefCell::new(Dwc2Model::new());
    model.borrow_mut().attach(&mut kbd);
    let mut hcd = driver(&model, fifo_chunk);
    hcd.init().expect("init");
    let mut buf = [0u8; 18];
    let pipe_of_nothing = PipeId {
        index: u8::MAX,
        generation: 0,
    };
    run_for(
        &mut hcd,
        &model,
        &mut Buf(pipe_of_nothing, &mut []),
        100_000,
    );
    assert!(hcd.take_port_events().connect_changed);
    hcd.port_reset_begin().expect("reset begins");
    run_for(&mut hcd, &model, &mut Buf(pipe_of_nothing, &mut []), 50_000);
    assert_eq!(hcd.port_reset_end(), Ok(Speed::Low));
    run_for(&mut hcd, &model, &mut Buf(pipe_of_nothing, &mut []), 10_000);
    let pipe = start_descriptor_read(&mut hcd);
    let mut done = None;
    for _ in 0..10_000 {
        run_for(&mut hcd, &model, &mut Buf(pipe, &mut buf), 1_000);
        done = hcd.take_completion(pipe);
        if done.is_some() {
            break;
        }
    }
    assert_eq!(done, Some(Ok(18)));
    assert_eq!(model.borrow().violations().count(), 0);
    assert!(hcd.slave_mode_intact());
    let log = hcd.regs().log.take();
    (log, buf)
}

#[test]
fn mmio_and_ipc_backends_make_the_same_register_trace_for_init_reset_and_a_descriptor_read() {
    let (mmio, mmio_descriptor) = bring_up(None);
    let (ipc, ipc_descriptor) = bring_up(Some(usb_sim_fifo_words()));
    assert_eq!(mmio_descriptor, ipc_descriptor);
    assert_eq!(mmio_descriptor[1], ty::DEVICE);
    assert!(
        mmio.iter()
            .any(|a| matches!(a, Access::Read(o, _) if *o == regs::fifo(0))),
        "the descriptor came through the RX FIFO"
    );
    assert_eq!(mmio.len(), ipc.len());
    if let Some(i) = (0..mmio.len()).find(|&i| mmio[i] != ipc[i]) {
        panic!("access {i} differs: mmio {:?}, ipc {:?}", mmio[i], ipc[i]);
    }
}

/// `usb_sim_api::MAX_FIFO_WORDS`: the words one `IpcRegs` FIFO call carries.
fn usb_sim_fifo_words() -> usize {
    256
}

fn writes(log: &[Access]) -> Vec<(u32, u32)> {
    log.iter()
        .filter_map(|a| match *a {
            Access::Write(o, v) => Some((o, v)),
            Access::Read(..) => None,
        })
        .collect()
}

/// Index of the first write of `offset` whose value satisfies `f`.
fn first_write(writes: &[(u32, u32)], offset: u32, f: impl Fn(u32) -> bool) -> usize {
    writes
        .iter()
        .position(|&(o, v)| o == offset && f(v))
        .unwrap_or_else(|| panic!("no such write to {offset:#x}: {writes:x?}"))
}

#[test]
fn every_start_is_fenced_mask_first_then_reset_and_flush_then_unmask() {
    let (log, _) = bring_up(None);
    let init_end = first_write(&writes(&log), regs::GAHBCFG, |v| v != 0);
    let w = &writes(&log)[..=init_end];
    // Nothing is written before the core's interrupt is masked.
    assert_eq!(w[0], (regs::GAHBCFG, 0), "{w:x?}");
    let reset = first_write(w, regs::GRSTCTL, |v| v & regs::grstctl::CSRST != 0);
    let tx_flush = first_write(w, regs::GRSTCTL, |v| v & regs::grstctl::TXFFLSH != 0);
    let rx_flush = first_write(w, regs::GRSTCTL, |v| v & regs::grstctl::RXFFLSH != 0);
    let unmask = first_write(w, regs::GINTMSK, |v| v != 0);
    assert!(
        reset < tx_flush && tx_flush < unmask && rx_flush < unmask,
        "{w:x?}"
    );
    // No write anywhere turns buffer DMA on.
    assert!(
        writes(&log)
            .iter()
            .all(|&(o, v)| o != regs::GAHBCFG || v & regs::gahbcfg::DMAEN == 0)
    );
}

/// A restarted `usb-hcd` finds the controller as its predecessor left it: a transfer
/// programmed, interrupts unmasked and pending. Its init fences all that, and the new
/// incarnation reads the descriptor as if the controller were fresh.
#[test]
fn a_new_incarnation_takes_over_a_controller_left_mid_transfer() {
    let mut kbd = hid::keyboard(&[]);
    let model = RefCell::new(Dwc2Model::new());
    model.borrow_mut().attach(&mut kbd);
    let none = PipeId {
        index: u8::MAX,
        generation: 0,
    };
    {
        let mut old = driver(&model, None);
        old.init().expect("init");
        run_for(&mut old, &model, &mut Buf(none, &mut []), 100_000);
        old.port_reset_begin().expect("reset");
        run_for(&mut old, &model, &mut Buf(none, &mut []), 50_000);
        old.port_reset_end().expect("enabled");
        let pipe = start_descriptor_read(&mut old);
        let mut buf = [0u8; 18];
        old.service(&mut Buf(pipe, &mut buf));
        model.borrow_mut().step();
        // The old incarnation dies here, its transfer in flight.
    }
    let mut new = driver(&model, None);
    new.init().expect("the new incarnation's init");
    assert!(new.slave_mode_intact());
    run_for(&mut new, &model, &mut Buf(none, &mut []), 100_000);
    assert!(new.take_port_events().connect_changed);
    new.port_reset_begin().expect("reset");
    run_for(&mut new, &model, &mut Buf(none, &mut []), 50_000);
    assert_eq!(new.port_reset_end(), Ok(Speed::Low));
    run_for(&mut new, &model, &mut Buf(none, &mut []), 10_000);
    let pipe = start_descriptor_read(&mut new);
    let mut buf = [0u8; 18];
    let mut done = None;
    for _ in 0..10_000 {
        run_for(&mut new, &model, &mut Buf(pipe, &mut buf), 1_000);
        done = new.take_completion(pipe);
        if done.is_some() {
            break;
        }
    }
    assert_eq!(done, Some(Ok(18)));
    assert_eq!(buf[1], ty::DEVICE);
}

#[test]
fn the_slave_mode_tripwire_sees_dmaen_and_init_clears_it() {
    let model = RefCell::new(Dwc2Model::new());
    let mut hcd = driver(&model, None);
    hcd.init().expect("init");
    assert!(hcd.slave_mode_intact());
    // Something other than the driver turns buffer DMA on.
    model
        .borrow_mut()
        .write(regs::GAHBCFG, regs::gahbcfg::GINT | regs::gahbcfg::DMAEN);
    assert!(!hcd.slave_mode_intact());
    hcd.init().expect("init fences it");
    assert!(hcd.slave_mode_intact());
}
