//! Addresses of the System Control Space registers the kernel uses (ARMv7-M ARM, B3).

pub const ICSR: *mut u32 = 0xE000_ED04 as *mut u32;
pub const AIRCR: *mut u32 = 0xE000_ED0C as *mut u32;
pub const CCR: *mut u32 = 0xE000_ED14 as *mut u32;
pub const SHPR2: *mut u32 = 0xE000_ED1C as *mut u32;
pub const SHPR3: *mut u32 = 0xE000_ED20 as *mut u32;
pub const SHCSR: *mut u32 = 0xE000_ED24 as *mut u32;
pub const CFSR: *mut u32 = 0xE000_ED28 as *mut u32;
pub const HFSR: *mut u32 = 0xE000_ED2C as *mut u32;
pub const MMFAR: *mut u32 = 0xE000_ED34 as *mut u32;
pub const BFAR: *mut u32 = 0xE000_ED38 as *mut u32;
pub const FPCCR: *mut u32 = 0xE000_EF34 as *mut u32;
pub const MPU_CTRL: *mut u32 = 0xE000_ED94 as *mut u32;
/// MPU_RBAR, MPU_RASR and their three alias pairs: four regions per 8-word burst.
pub const MPU_RBAR_BURST: *mut u32 = 0xE000_ED9C as *mut u32;
pub const SYST_CSR: *mut u32 = 0xE000_E010 as *mut u32;
pub const SYST_RVR: *mut u32 = 0xE000_E014 as *mut u32;
pub const SYST_CVR: *mut u32 = 0xE000_E018 as *mut u32;
pub const NVIC_ISER: *mut u32 = 0xE000_E100 as *mut u32;
pub const NVIC_ICER: *mut u32 = 0xE000_E180 as *mut u32;
pub const NVIC_ISPR: *mut u32 = 0xE000_E200 as *mut u32;
pub const NVIC_ICPR: *mut u32 = 0xE000_E280 as *mut u32;
pub const NVIC_IPR: *mut u8 = 0xE000_E400 as *mut u8;

pub const ICSR_PENDSVSET: u32 = 1 << 28;
/// SysTick has wrapped and its handler has not run yet.
#[cfg(feature = "task-time")]
pub const ICSR_PENDSTSET: u32 = 1 << 26;
