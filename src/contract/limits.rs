//! Validation limits that every end applies the same way: the gRPC API and the command domain,
//! the MQTT payload parser, and the client-side adapters (MCP) that check before they call.
//!
//! A leaf, so that the client side can name the same numbers without importing the server.

use std::time::Duration;

/// Longest `reason` of a command, cancel or abort, in characters.
pub const MAX_REASON_CHARS: usize = 2000;
/// Longest free-text field accepted from a device (an error message), in characters.
pub const MAX_DEVICE_TEXT_CHARS: usize = 2000;
/// Bounds of a command's lifetime before acceptance, in seconds.
pub const MIN_EXPIRY_SECS: u32 = 1;
pub const MAX_EXPIRY_SECS: u32 = 86_400;
/// The same bounds as durations.
pub const MIN_EXPIRY: Duration = Duration::from_secs(MIN_EXPIRY_SECS as u64);
pub const MAX_EXPIRY: Duration = Duration::from_secs(MAX_EXPIRY_SECS as u64);

/// Largest page of a listing the server returns; a larger `page_size` is clamped to it.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Why `reason` is refused (`longer than 2000 characters`), or `Ok` when it fits.
pub fn check_reason(reason: &str) -> Result<(), String> {
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(format!("longer than {MAX_REASON_CHARS} characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_fits_up_to_the_limit_in_characters_not_bytes() {
        assert_eq!(check_reason(&"é".repeat(MAX_REASON_CHARS)), Ok(()));
        assert_eq!(
            check_reason(&"x".repeat(MAX_REASON_CHARS + 1)),
            Err("longer than 2000 characters".to_owned())
        );
    }
}
