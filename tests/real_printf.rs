//! Broker writes reals in JSON with C's `printf("%f")`; ours must give the same text.
//! Compared here against the C library itself on many doubles.

use zcluster::data::json::format_real;

fn c_printf_f(x: f64) -> String {
    let mut buf = vec![0u8; 512];
    // SAFETY: the buffer is 512 bytes, enough for "%f" of any double up to 1e308 (~320).
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            c"%f".as_ptr(),
            x,
        )
    };
    buf.truncate(n as usize);
    String::from_utf8(buf).unwrap()
}

#[test]
fn format_real_equals_c_printf() {
    let mut special = vec![
        0.0,
        -0.0,
        1.5,
        -7.5,
        0.0078125,
        2.5e-7,
        5e-7,
        1.0000005,
        0.1234565,
        1e308,
        -1e-320,
        123_456_789.123_456_78,
        0.5e-6,
        1.5e-6,
    ];
    let mut x: u64 = 0x1234_5678_9abc_def1;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let f = f64::from_bits(x);
        if f.is_finite() {
            special.push(f);
        }
        // Values near ties at the 6th decimal.
        special.push((x % 10_000_000) as f64 / 2e6);
    }
    for f in special {
        assert_eq!(format_real(f), c_printf_f(f), "{f:e}");
    }
}
