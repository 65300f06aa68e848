//! Virtual clock: `real time × speed + manual advances`. Every asynchronous transition of the
//! emulator (replication, TDG status changes, number claims, user mirroring) is evaluated lazily
//! against this clock on each request, so tests can jump ahead instead of sleeping.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct VirtualClock {
    anchor_real: Instant,
    /// Virtual epoch seconds at `anchor_real`.
    anchor_virtual: f64,
    speed: f64,
}

impl VirtualClock {
    pub fn new(speed: f64) -> Self {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        Self {
            anchor_real: Instant::now(),
            anchor_virtual: wall,
            speed: sanitize_speed(speed),
        }
    }

    /// Virtual time in epoch seconds.
    pub fn now(&self) -> f64 {
        self.at(Instant::now())
    }

    fn at(&self, real: Instant) -> f64 {
        let elapsed = real
            .saturating_duration_since(self.anchor_real)
            .as_secs_f64();
        self.anchor_virtual + elapsed * self.speed
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// Jumps the virtual clock forward (negative values are ignored: time never goes back).
    pub fn advance(&mut self, seconds: f64) {
        if seconds.is_finite() && seconds > 0.0 {
            self.anchor_virtual += seconds;
        }
    }

    /// Changes how fast virtual time runs relative to real time, from now on.
    pub fn set_speed(&mut self, speed: f64) {
        let real = Instant::now();
        self.anchor_virtual = self.at(real);
        self.anchor_real = real;
        self.speed = sanitize_speed(speed);
    }
}

fn sanitize_speed(speed: f64) -> f64 {
    if speed.is_finite() && speed >= 0.0 {
        speed
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_forward_only() {
        let mut c = VirtualClock::new(0.0);
        let t0 = c.now();
        c.advance(10.0);
        assert!((c.now() - t0 - 10.0).abs() < 1e-6);
        c.advance(-5.0);
        c.advance(f64::NAN);
        assert!((c.now() - t0 - 10.0).abs() < 1e-6);
    }

    #[test]
    fn speed_zero_freezes_time() {
        let mut c = VirtualClock::new(1.0);
        c.set_speed(0.0);
        let t0 = c.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(c.now(), t0);
        assert_eq!(c.speed(), 0.0);
    }
}
