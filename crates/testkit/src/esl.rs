//! A small blocking client for FreeSWITCH's event socket (mod_event_socket).
//!
//! The module never uses it: it is for the tools around it (the capture
//! tool, the demo, the real-FreeSWITCH tests), which drive a FreeSWITCH from
//! outside the way an admin's scripts would.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One message from the socket: its envelope headers and body.
#[derive(Clone, Debug, Default)]
pub struct Message {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub struct EslClient {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
    events: VecDeque<String>,
}

fn protocol_error(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl EslClient {
    /// Connects to `addr` (e.g. `127.0.0.1:8021`) and authenticates.
    pub fn connect(addr: &str, password: &str, timeout: Duration) -> io::Result<EslClient> {
        let socket_addr = addr
            .parse()
            .map_err(|e| protocol_error(format!("bad address {addr}: {e}")))?;
        let stream = TcpStream::connect_timeout(&socket_addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        let mut client = EslClient {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
            events: VecDeque::new(),
        };
        let greeting = client.read_message()?;
        if greeting.header("Content-Type") != Some("auth/request") {
            return Err(protocol_error("no auth/request from FreeSWITCH".into()));
        }
        let reply = client.command(&format!("auth {password}"))?;
        if !reply.starts_with("+OK") {
            return Err(protocol_error(format!("authentication failed: {reply}")));
        }
        Ok(client)
    }

    pub fn set_timeout(&mut self, timeout: Duration) -> io::Result<()> {
        self.reader.get_ref().set_read_timeout(Some(timeout))
    }

    fn read_message(&mut self) -> io::Result<Message> {
        let mut message = Message::default();
        loop {
            let mut line = String::new();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "socket closed",
                ));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if message.headers.is_empty() {
                    continue;
                }
                break;
            }
            if let Some((name, value)) = line.split_once(": ") {
                message.headers.push((name.to_owned(), value.to_owned()));
            }
        }
        if let Some(len) = message.header("Content-Length") {
            let len: usize = len
                .parse()
                .map_err(|_| protocol_error(format!("bad Content-Length {len}")))?;
            let mut body = vec![0; len];
            self.reader.read_exact(&mut body)?;
            message.body = String::from_utf8_lossy(&body).into_owned();
        }
        Ok(message)
    }

    /// Reads until a message of `content_type`, keeping events for later.
    fn read_until(&mut self, content_type: &str) -> io::Result<Message> {
        loop {
            let message = self.read_message()?;
            match message.header("Content-Type") {
                Some(t) if t == content_type => return Ok(message),
                Some("text/event-plain") => self.events.push_back(message.body),
                Some("text/disconnect-notice") => {
                    return Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "disconnected",
                    ));
                }
                _ => {}
            }
        }
    }

    fn command(&mut self, command: &str) -> io::Result<String> {
        self.writer.write_all(format!("{command}\n\n").as_bytes())?;
        let reply = self.read_until("command/reply")?;
        Ok(reply.header("Reply-Text").unwrap_or_default().to_owned())
    }

    /// Runs an API command (as fs_cli's `/api` or `-x`) and returns its output.
    pub fn api(&mut self, command: &str) -> io::Result<String> {
        if command.contains('\n') {
            return Err(protocol_error("an API command is one line".into()));
        }
        self.writer
            .write_all(format!("api {command}\n\n").as_bytes())?;
        Ok(self.read_until("api/response")?.body)
    }

    /// Fires an event inside FreeSWITCH (`sendevent`), with raw header bytes,
    /// e.g. `CUSTOM` with an `Event-Subclass` header. Returns the reply text.
    pub fn sendevent(&mut self, name: &str, headers: &[(&[u8], &[u8])]) -> io::Result<String> {
        let mut message = format!("sendevent {name}\n").into_bytes();
        for (header, value) in headers {
            if header.contains(&b'\n') || value.contains(&b'\n') {
                return Err(protocol_error("a header holds a newline".into()));
            }
            message.extend_from_slice(header);
            message.extend_from_slice(b": ");
            message.extend_from_slice(value);
            message.push(b'\n');
        }
        message.push(b'\n');
        self.writer.write_all(&message)?;
        let reply = self.read_until("command/reply")?;
        Ok(reply.header("Reply-Text").unwrap_or_default().to_owned())
    }

    /// Subscribes to events in plain format, e.g.
    /// `CUSTOM callcenter::info CHANNEL_HANGUP_COMPLETE`.
    pub fn subscribe(&mut self, events: &str) -> io::Result<()> {
        let reply = self.command(&format!("event plain {events}"))?;
        if reply.starts_with("+OK") {
            Ok(())
        } else {
            Err(protocol_error(format!("subscription refused: {reply}")))
        }
    }

    /// The next event's plain text, or `None` when the read timed out.
    pub fn next_event(&mut self) -> io::Result<Option<String>> {
        if let Some(event) = self.events.pop_front() {
            return Ok(Some(event));
        }
        match self.read_until("text/event-plain") {
            Ok(message) => Ok(Some(message.body)),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}
