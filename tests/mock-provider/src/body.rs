//! Response bodies: one buffer when nothing is scripted, or a paced sequence of frames that
//! applies time to first token, chunk delays and mid-stream faults.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};
use tokio::time::Sleep;

use crate::config::Fault;
use crate::controls::Controls;
use crate::faults::ResetTrigger;

/// The body of every mock response.
#[derive(Debug)]
pub(crate) enum MockBody {
    /// The whole body at once.
    Full(Option<Bytes>),
    /// Frames released on a schedule.
    Paced(Box<Paced>),
}

impl MockBody {
    pub fn empty() -> Self {
        Self::Full(None)
    }
}

impl Body for MockBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Paced(paced) => paced.poll_next(cx).map(|f| f.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, Self::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(Some(bytes)) => SizeHint::with_exact(bytes.len() as u64),
            Self::Full(None) => SizeHint::with_exact(0),
            Self::Paced(_) => SizeHint::default(),
        }
    }
}

/// A stream as a provider would send it: `lead` frames go out with the headers, then
/// `content` frames (the first after the TTFT, each next after the chunk delay), then the
/// rest at once.
#[derive(Debug)]
pub(crate) struct StreamPlan {
    pub frames: Vec<Bytes>,
    pub lead: usize,
    pub content: usize,
    /// The provider's in-stream error event, sent for `error-mid-stream`.
    pub error_frame: Option<Bytes>,
    /// Whether frames are SSE events (a malformed frame then still ends with a blank line).
    pub sse: bool,
}

/// The paced body's state.
#[derive(Debug)]
pub(crate) struct Paced {
    frames: VecDeque<Bytes>,
    index: usize,
    lead: usize,
    content: usize,
    ttft: Duration,
    gap: Duration,
    fault: Option<Fault>,
    stall: Option<Duration>,
    error_frame: Option<Bytes>,
    sse: bool,
    reset: ResetTrigger,
    sleep: Option<Pin<Box<Sleep>>>,
    slept: bool,
    /// Set once the connection reset was triggered: the body must never yield again, even
    /// if polled before the connection task drops it.
    dead: bool,
}

impl Paced {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.dead {
            return Poll::Pending;
        }
        loop {
            if let Some(sleep) = self.sleep.as_mut() {
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
                self.slept = true;
            }
            if self.index == self.lead + self.content / 2
                && let Some(fault) = self.fault.take()
            {
                match self.interrupt(fault) {
                    Interrupt::Pending => return Poll::Pending,
                    Interrupt::Frame(frame) => return Poll::Ready(Some(frame)),
                    Interrupt::Resume => continue,
                }
            }
            let delay = self.delay_before(self.index);
            if !self.slept && !delay.is_zero() {
                self.sleep = Some(Box::pin(tokio::time::sleep(delay)));
                continue;
            }
            self.slept = false;
            self.index += 1;
            return Poll::Ready(self.frames.pop_front());
        }
    }

    fn delay_before(&self, index: usize) -> Duration {
        if index == self.lead {
            self.ttft
        } else if index > self.lead && index < self.lead + self.content {
            self.gap
        } else {
            Duration::ZERO
        }
    }

    fn interrupt(&mut self, fault: Fault) -> Interrupt {
        match fault {
            Fault::ResetMidStream => {
                self.reset.fire();
                self.dead = true;
                Interrupt::Pending
            }
            Fault::StallMidStream => {
                // A day is "for ever" for a test; the timer dies with the connection.
                let stall = self.stall.unwrap_or(Duration::from_secs(86_400));
                self.sleep = Some(Box::pin(tokio::time::sleep(stall)));
                self.slept = true;
                Interrupt::Resume
            }
            Fault::ErrorMidStream => {
                self.frames.clear();
                match self.error_frame.take() {
                    Some(frame) => Interrupt::Frame(frame),
                    None => Interrupt::Resume,
                }
            }
            Fault::Malformed => {
                let Some(frame) = self.frames.pop_front() else {
                    return Interrupt::Resume;
                };
                self.frames.clear();
                let mut broken = BytesMut::from(&frame[..frame.len() / 2]);
                if self.sse {
                    broken.put_slice(b"\n\n");
                }
                Interrupt::Frame(broken.freeze())
            }
            Fault::Reset | Fault::Stall => Interrupt::Resume,
        }
    }
}

enum Interrupt {
    Pending,
    Frame(Bytes),
    Resume,
}

/// A `200` (or `status`) response with one JSON body.
pub(crate) fn json(status: StatusCode, bytes: Bytes) -> Response<MockBody> {
    with_type(status, "application/json", MockBody::Full(Some(bytes)))
}

/// A response with the given content type and body.
pub(crate) fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: MockBody,
) -> Response<MockBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A non-streaming JSON answer: sent whole, or split in two halves when a mid-body fault is
/// scripted (the fault then strikes between them).
pub(crate) fn answer(bytes: Bytes, controls: &Controls, reset: &ResetTrigger) -> MockBody {
    match controls.fault {
        Some(Fault::ResetMidStream | Fault::StallMidStream | Fault::ErrorMidStream) => {
            let half = bytes.len() / 2;
            let plan = StreamPlan {
                frames: vec![bytes.slice(..half), bytes.slice(half..)],
                lead: 0,
                content: 2,
                error_frame: None,
                sse: false,
            };
            let controls = Controls {
                ttft: Duration::ZERO,
                chunk_delay: Duration::ZERO,
                ..controls.clone()
            };
            stream(plan, &controls, reset)
        }
        Some(Fault::Malformed) => MockBody::Full(Some(bytes.slice(..bytes.len() / 2))),
        _ => MockBody::Full(Some(bytes)),
    }
}

/// A streaming body for `plan`: one buffer when nothing is paced, else a `Paced` body.
pub(crate) fn stream(plan: StreamPlan, controls: &Controls, reset: &ResetTrigger) -> MockBody {
    if controls.is_immediate() {
        let len = plan.frames.iter().map(Bytes::len).sum();
        let mut out = BytesMut::with_capacity(len);
        for frame in &plan.frames {
            out.put_slice(frame);
        }
        return MockBody::Full(Some(out.freeze()));
    }
    MockBody::Paced(Box::new(Paced {
        frames: plan.frames.into(),
        index: 0,
        lead: plan.lead,
        content: plan.content,
        ttft: controls.ttft,
        gap: controls.chunk_delay,
        fault: controls.fault,
        stall: controls.stall,
        error_frame: plan.error_frame,
        sse: plan.sse,
        reset: reset.clone(),
        sleep: None,
        slept: false,
        dead: false,
    }))
}
