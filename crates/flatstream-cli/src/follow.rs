//! `cat --follow` and `verify --follow`: read a file another process is still writing, with
//! `flatstream::Follow`, until SIGINT or SIGTERM; then print the summary and exit 0.
//!
//! After the signal, every frame whole in the file is still handled (the file is read once
//! more after the signal was seen, so nothing written before it is left out); a second
//! signal stops at once.
//!
//! A frame still being written (a torn tail) is waited for, not reported. A bad frame stops
//! the command as it does without `--follow` (exit 1, naming frame and offset); a file
//! truncated or replaced underneath is exit 2.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use flatstream::{
    Error, ErrorKind, FollowConfig, NoValidator, StructuralValidator, TypedValidator, Validator,
    detect_checksum_with_limit, wire::MAX_HEADER_LEN,
};
use flatstream_telemetry_schema::Event;
use serde_json::json;

use crate::args::{CatArgs, CatFormat, Options, ValidateName, VerifyArgs};
use crate::choose::Chosen;
use crate::compression::deliver;
use crate::failure::Failure;
use crate::output::{STDOUT, after_printing, print};
use flatstream::inspect::{JsonWriter, Verifier};

/// The exit status after a second SIGINT or SIGTERM, which stops at once: 130, as shells
/// report a command ended by SIGINT.
const SECOND_SIGNAL_STATUS: i32 = 130;

/// SIGINT and SIGTERM received: at the first, finish what is written and print the summary;
/// at the second, stop at once.
static SIGNALS: AtomicU32 = AtomicU32::new(0);

/// The longest a follower waits before looking at the stop flag again.
const WAKE_EVERY: Duration = Duration::from_millis(100);

/// What following found, up to the signal or the first bad frame.
struct Followed {
    /// The stream's checksum; `None` when a signal came before it could be detected.
    checksum: Option<Chosen>,
    /// Whole frames read (the bad one excluded).
    frames: u64,
    /// Bytes of those frames.
    position: u64,
    /// Bytes read past them: a frame still being written.
    pending: usize,
    /// The first bad frame, if one stopped the command.
    error: Option<Error>,
}

impl Followed {
    /// What the command was doing when it ended, for `--json`.
    fn end(&self) -> &'static str {
        if self.error.is_some() {
            "bad_frame"
        } else {
            "stopped"
        }
    }

    /// The checksum's name for the summary.
    fn checksum_name(&self) -> &'static str {
        self.checksum
            .map_or("not yet detected", |chosen| chosen.name())
    }

    /// The summary's note on a frame still being written.
    fn pending_note(&self) -> String {
        match self.pending {
            0 => String::new(),
            pending => format!(
                "; {pending} bytes of a frame still being written after byte offset {}",
                self.position
            ),
        }
    }
}

pub(crate) fn cat(options: &Options, args: &CatArgs) -> Result<(), Failure> {
    let mut out = BufWriter::with_capacity(256 * 1024, io::stdout().lock());
    let mut hex = String::new();
    // `--format json`: each payload verified against the schema, then printed through it.
    let schema = match args.format {
        CatFormat::Json => Some(args.schema.load("--format json")?),
        _ => None,
    };
    let json = schema.map(|schema| JsonWriter::new(schema.layout()));
    let validator: Box<dyn Validator> = match schema {
        Some(schema) => Box::new(Verifier::new(schema)),
        None => Box::new(NoValidator),
    };
    let mut line = Vec::new();
    let file = &args.file;
    let followed = follow(file, options, validator, |payload| {
        let printed = match (payload, &json) {
            (Some(payload), Some(json)) => {
                line.clear();
                json.write(payload, &mut line)
                    .map_err(|error| Failure::data(file, error.to_string()))?;
                line.push(b'\n');
                out.write_all(&line)
            }
            (Some(payload), None) => {
                crate::commands::print_payload(&mut out, args.format, &mut hex, payload)
            }
            (None, _) => out.flush(),
        };
        printed.map_err(|error| Failure::output(Path::new(STDOUT), &error))
    });
    out.flush()
        .map_err(|error| Failure::output(Path::new(STDOUT), &error))?;
    let followed = followed?;
    if let Some(error) = &followed.error {
        return Err(Failure::from_error(&args.file, error));
    }
    // Standard output holds only payloads: the summary goes to standard error.
    eprintln!(
        "flatstream: {}: stopped following: {} frames, {} bytes, checksum {}{}",
        args.file.display(),
        followed.frames,
        followed.position,
        followed.checksum_name(),
        followed.pending_note()
    );
    Ok(())
}

pub(crate) fn verify(options: &Options, args: &VerifyArgs) -> Result<(), Failure> {
    let followed = follow(&args.file, options, validator(args.validate), |_| Ok(()))?;
    if args.json {
        let printed = print(|out| {
            writeln!(
                out,
                "{}",
                json!({
                    "checksum": followed.checksum.map(crate::choose::Chosen::name),
                    "checksum_detected": followed.checksum.is_some_and(|chosen| chosen.detected),
                    "frames": followed.frames,
                    "bytes": followed.position,
                    "pending_bytes": followed.pending,
                    "end": followed.end(),
                    "last_good_offset": followed.position,
                    "error": followed.error.as_ref().map(ToString::to_string),
                })
            )
        });
        let verdict = match followed.error {
            Some(_) => Err(Failure::already_reported()),
            None => Ok(()),
        };
        return after_printing(printed, verdict);
    }
    if let Some(error) = &followed.error {
        return Err(Failure::from_error(&args.file, error));
    }
    let Some(checksum) = followed.checksum else {
        return print(|out| {
            writeln!(
                out,
                "{}: stopped following before the checksum could be detected ({} bytes \
                 waiting; name it with -c)",
                args.file.display(),
                followed.pending
            )
        });
    };
    print(|out| {
        writeln!(
            out,
            "{}: ok: {} frames, {} bytes, checksum {}{}; stopped following{}",
            args.file.display(),
            followed.frames,
            followed.position,
            checksum.name(),
            if checksum.detected { " (detected)" } else { "" },
            followed.pending_note()
        )
    })
}

/// Follows `path`, handing each payload to `on_payload`, until a signal or a bad frame;
/// `on_payload(None)` says the follower is about to wait (flush what was printed).
fn follow(
    path: &Path,
    options: &Options,
    validator: Box<dyn Validator>,
    mut on_payload: impl FnMut(Option<&[u8]>) -> Result<(), Failure>,
) -> Result<Followed, Failure> {
    // Checked before detection, which would wait forever on an empty device.
    let metadata = std::fs::metadata(path).map_err(|error| Failure::usage(path, error))?;
    if !metadata.is_file() {
        return Err(Failure::usage(
            path,
            "is not a regular file: only a file can be followed as it grows",
        ));
    }
    ctrlc::set_handler(|| {
        // The second signal ends the process here, in the handler's thread: the main thread
        // may be blocked writing to a pipe nobody reads, where no flag would reach it.
        if SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
            std::process::exit(SECOND_SIGNAL_STATUS);
        }
    })
    .map_err(|error| {
        Failure::usage(
            path,
            format_args!("cannot catch SIGINT and SIGTERM: {error}"),
        )
    })?;
    let checksum = match checksum(path, options)? {
        Detection::Chosen(checksum) => checksum,
        Detection::Stopped { waiting } => {
            return Ok(Followed {
                checksum: None,
                frames: 0,
                position: 0,
                pending: waiting,
                error: None,
            });
        }
    };
    let (deframer, mut unchunker) = crate::scan::deframer(path, options, checksum, validator)?;
    let mut follow = FollowConfig::new()
        .open(path, deframer)
        .map_err(|error| Failure::usage(path, error))?;
    let mut timeout = Duration::ZERO;
    let error = loop {
        // Read before the call: a call made after a signal reads everything written before it.
        let signals = SIGNALS.load(Ordering::SeqCst);
        if signals > 1 {
            break None;
        }
        let offset = follow.position();
        match follow.next(if signals > 0 { Duration::ZERO } else { timeout }) {
            Ok(Some(payload)) => {
                timeout = Duration::ZERO;
                let delivered = deliver(unchunker.as_mut(), payload, |message| {
                    on_payload(Some(message))
                })?;
                if let Err(error) = delivered {
                    break Some(error.at_frame(follow.frames_read() - 1, offset));
                }
            }
            Ok(None) if signals > 0 => break None,
            Ok(None) => {
                if timeout.is_zero() {
                    // Everything written so far is handled: show it before waiting.
                    on_payload(None)?;
                    timeout = WAKE_EVERY;
                }
            }
            Err(error) => match error.kind() {
                ErrorKind::Truncated { .. } | ErrorKind::Replaced { .. } | ErrorKind::Io(_) => {
                    return Err(Failure::usage(path, error).context("stopped following"));
                }
                _ => break Some(error),
            },
        }
    };
    Ok(Followed {
        checksum: Some(checksum),
        frames: error
            .as_ref()
            .and_then(Error::frame_index)
            .unwrap_or(follow.frames_read()),
        position: error
            .as_ref()
            .and_then(Error::offset)
            .unwrap_or(follow.position()),
        pending: if error.is_some() {
            0
        } else {
            follow.pending_len()
        },
        error,
    })
}

/// What detecting the checksum of a followed file came to.
enum Detection {
    Chosen(Chosen),
    /// A signal came first, with this many bytes in the file.
    Stopped {
        waiting: usize,
    },
}

/// The checksum named, or detected from the file's first frames once they are there: the
/// prefix read grows as `verify` reads it (1 MiB, then up to a whole first frame), so a
/// stream whose first frame is large is detected too. A first frame that declares more than
/// the limit is bad data at once: every checksum reads the same length field, so no bytes
/// still to come can make it good.
fn checksum(path: &Path, options: &Options) -> Result<Detection, Failure> {
    if let Some(chosen) = Chosen::given(options.checksum) {
        return Ok(Detection::Chosen(chosen));
    }
    let steps = crate::choose::prefix_steps(options.max_frame_len);
    let mut step = 0;
    let mut said_so = false;
    let mut start = Vec::new();
    loop {
        let signals = SIGNALS.load(Ordering::SeqCst);
        start.clear();
        File::open(path)
            .and_then(|file| file.take(steps[step] as u64).read_to_end(&mut start))
            .map_err(|error| Failure::usage(path, error))?;
        if let Some(declared) = flatstream::wire::declared_len(&start)
            && declared as usize > options.max_frame_len
        {
            let error =
                Error::frame_too_large(u64::from(declared), options.max_frame_len).at_frame(0, 0);
            return Err(Failure::from_error(path, &error));
        }
        if start.len() > MAX_HEADER_LEN {
            match detect_checksum_with_limit(&start, options.max_frame_len) {
                Ok(detected) => {
                    return Ok(Detection::Chosen(Chosen {
                        kind: detected.checksum,
                        detected: true,
                        assumed: false,
                    }));
                }
                // The whole prefix of this step is there and is not enough: a larger one.
                Err(_) if start.len() >= steps[step] && step + 1 < steps.len() => {
                    step += 1;
                    continue;
                }
                Err(error) if start.len() >= steps[step] => {
                    return Err(Failure::usage(
                        path,
                        format_args!("cannot detect the checksum: {error}; name it with -c"),
                    ));
                }
                Err(_) => {}
            }
        }
        if signals > 0 {
            return Ok(Detection::Stopped {
                waiting: start.len(),
            });
        }
        if !said_so {
            eprintln!(
                "flatstream: {}: waiting for the first frames to detect the checksum (name it \
                 with -c to start at once)",
                path.display()
            );
            said_so = true;
        }
        std::thread::sleep(WAKE_EVERY);
    }
}

/// The validator `verify --validate` names (as `commands::verify` chooses it).
fn validator(name: Option<ValidateName>) -> Box<dyn Validator> {
    match name {
        None => Box::new(NoValidator),
        Some(ValidateName::Structural) => Box::new(StructuralValidator::new()),
        Some(ValidateName::Telemetry) => {
            Box::new(TypedValidator::for_type::<Event<'static>>().named("telemetry"))
        }
    }
}
