//! A file changed underneath the follower: truncated, replaced, removed. Each is an error
//! naming where the follower stood, after every byte of the file opened has been read.

use std::thread;
use std::time::Duration;

use flatstream_follow::{ErrorKind, Follow, FollowConfig};

use crate::{
    PATIENCE, append, appender, configs, deframer, expect_frame, frame, fresh_file, payload,
};

#[test]
fn a_file_truncated_while_the_follower_waits_is_an_error() {
    for (name, config) in configs() {
        let path = fresh_file(&format!("truncated-{name}.fs"));
        let mut file = appender(&path);
        let frames: Vec<Vec<u8>> = (0..3).map(|index| frame(&payload(index))).collect();
        for frame in &frames {
            append(&mut file, frame);
        }
        let read: usize = frames.iter().map(Vec::len).sum();
        let mut follow = config.open(&path, deframer()).unwrap();
        for index in 0..3 {
            assert_eq!(expect_frame(&mut follow), payload(index), "{name}");
        }
        let cut = frames[0].len() as u64;
        let truncating = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            file.set_len(cut).unwrap();
        });
        let error = follow.next(PATIENCE).unwrap_err();
        truncating.join().unwrap();
        assert!(
            matches!(error.kind(), ErrorKind::Truncated { len, read: r } if *len == cut && *r == read as u64),
            "{name}: {error}"
        );
        assert_eq!(
            (error.frame_index(), error.offset()),
            (Some(3), Some(read as u64)),
            "{name}"
        );
        assert!(
            error
                .to_string()
                .starts_with("file truncated underneath the reader"),
            "{name}: {error}"
        );
        assert!(follow.is_stopped(), "{name}");
        assert!(
            follow.next(Duration::ZERO).is_err(),
            "{name}: stays stopped"
        );
    }
}

#[test]
fn a_file_cut_inside_a_pending_frame_is_truncated_too() {
    let path = fresh_file("truncated-pending.fs");
    let mut file = appender(&path);
    let whole = frame(&payload(5));
    append(&mut file, &whole[..whole.len() - 2]);
    let mut follow = Follow::new(&path, deframer()).unwrap();
    assert_eq!(follow.next(Duration::ZERO).unwrap(), None);
    file.set_len(3).unwrap();
    let error = follow.next(PATIENCE).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Truncated { len: 3, .. }),
        "{error}"
    );
    assert_eq!((error.frame_index(), error.offset()), (Some(0), Some(0)));
}

#[test]
fn a_replaced_file_is_an_error_after_the_frames_of_the_old_one() {
    for (name, config) in configs() {
        let path = fresh_file(&format!("replaced-{name}.fs"));
        let mut old = appender(&path);
        append(&mut old, &frame(&payload(1)));
        let mut follow = config.open(&path, deframer()).unwrap();
        assert_eq!(expect_frame(&mut follow), payload(1), "{name}");
        // The old file gets one more frame, then a new file is renamed over its path.
        append(&mut old, &frame(&payload(2)));
        let replacement = path.with_extension("new");
        std::fs::write(&replacement, frame(&payload(9))).unwrap();
        std::fs::rename(&replacement, &path).unwrap();
        assert_eq!(
            expect_frame(&mut follow),
            payload(2),
            "{name}: the old file's last frame"
        );
        let error = follow.next(PATIENCE).unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::Replaced { .. }),
            "{name}: {error}"
        );
        assert!(
            error.to_string().contains("now names another file")
                && error.to_string().contains("(frame 2 at byte offset"),
            "{name}: {error}"
        );
        assert!(
            follow.next(Duration::ZERO).is_err(),
            "{name}: stays stopped"
        );
    }
}

#[test]
fn a_removed_file_is_an_error() {
    let path = fresh_file("removed.fs");
    let mut file = appender(&path);
    append(&mut file, &frame(b"only"));
    let mut follow = Follow::new(&path, deframer()).unwrap();
    assert_eq!(follow.next(Duration::ZERO).unwrap(), Some(&b"only"[..]));
    std::fs::remove_file(&path).unwrap();
    let error = follow.next(PATIENCE).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::Replaced { .. })
            && error.to_string().contains("names no file"),
        "{error}"
    );
}

#[test]
fn what_cannot_be_followed_is_refused_at_open() {
    for path in ["/dev/null", "/"] {
        let error = Follow::new(path, deframer()).unwrap_err();
        assert!(
            error.to_string().contains("not a regular file"),
            "{path}: {error}"
        );
    }
    let missing = Follow::new("/nonexistent/flatstream-follow", deframer()).unwrap_err();
    assert!(matches!(missing.kind(), ErrorKind::Io(_)), "{missing}");
    let path = fresh_file("zero-interval.fs");
    let error = FollowConfig::new()
        .poll_interval(Duration::ZERO)
        .open(&path, deframer())
        .unwrap_err();
    assert!(error.to_string().contains("poll interval"), "{error}");
}
