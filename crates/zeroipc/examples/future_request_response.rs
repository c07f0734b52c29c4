//! Request–response between two processes with Futures: the client creates a request and a
//! response Future per job; the server (this same program re-run with `ZEROIPC_RR_SERVER`
//! naming the segment) waits for each request, claims the response, computes, and sets it. The client waits with a
//! deadline, so a server that dies mid-computation is reported (`SetterDead`), never a hang.
//!
//! ```text
//! cargo run -p zeroipc --example future_request_response
//! ```

use std::error::Error;
use std::process::Command;
use std::time::Duration;

use zeroipc::codata::Future;
use zeroipc::{Segment, SegmentOptions};

const JOBS: u64 = 4;
const DEADLINE: Duration = Duration::from_secs(30);

/// Names the segment in the server process's environment.
pub const SERVER_ENV: &str = "ZEROIPC_RR_SERVER";

fn main() -> Result<(), Box<dyn Error>> {
    if let Ok(name) = std::env::var(SERVER_ENV) {
        return server(&name);
    }
    client(Command::new(std::env::current_exe()?))
}

/// Creates the segment and the futures, starts `server_cmd` as the server, sends the
/// requests and checks the answers.
///
/// # Errors
///
/// Creating the segment or a future, spawning the server, a timed-out or failed response, a
/// wrong answer, or a failed server.
pub fn client(mut server_cmd: Command) -> Result<(), Box<dyn Error>> {
    let name = format!("/zeroipc-example-rr-{}", std::process::id());
    let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    // Remove the segment however we leave (dropping a handle never unlinks).
    struct Cleanup<'a>(&'a str);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = Segment::unlink(self.0);
        }
    }
    let _cleanup = Cleanup(&name);

    // One request/response pair per job, created before the server starts.
    let mut pairs = Vec::new();
    for job in 0..JOBS {
        let request: Future<u64> = Future::create(&seg, &format!("req{job}"))?;
        let response: Future<u64> = Future::create(&seg, &format!("resp{job}"))?;
        pairs.push((request, response));
    }
    let mut server = server_cmd.env(SERVER_ENV, &name).spawn()?;

    for (job, (request, response)) in pairs.iter().enumerate() {
        let n = 10 * (job as u64 + 1);
        request.set_value(n)?;
        let sum = response.get_timeout(DEADLINE)?;
        println!("client: sum(1..={n}) = {sum}");
        if sum != n * (n + 1) / 2 {
            return Err(format!("wrong answer {sum} for {n}").into());
        }
    }
    let status = server.wait()?;
    if !status.success() {
        return Err(format!("server failed: {status}").into());
    }
    println!("client: {JOBS} requests answered");
    Ok(())
}

/// Answers the requests in segment `name`.
///
/// # Errors
///
/// Opening the segment or a future, a request that never comes, or a claimed response.
pub fn server(name: &str) -> Result<(), Box<dyn Error>> {
    let seg = Segment::open(name)?;
    for job in 0..JOBS {
        let request: Future<u64> = Future::open(&seg, &format!("req{job}"))?;
        let response: Future<u64> = Future::open(&seg, &format!("resp{job}"))?;
        let n = request.get_timeout(DEADLINE)?;
        // Claim first: from here until `set_value`, a crash of this process is seen by the
        // client as `GetError::SetterDead`.
        let promise = response.claim()?;
        promise.set_value((1..=n).sum())?;
    }
    Ok(())
}
