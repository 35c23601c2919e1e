package transport

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// DefaultMaxLine is the default limit on one request line (spec §3).
const DefaultMaxLine = 1 << 20

// ErrLineTooLong is returned by ReadLine for a line over the limit. The
// daemon answers it with ReasonMalformed and closes the connection; the
// reader is unusable afterwards.
var ErrLineTooLong = errors.New("line too long")

// readBufSize is the bufio buffer: most lines fit in one, so the common
// case returns a slice of it without copying.
const readBufSize = 16 << 10

// LineReader splits a stream into newline-terminated lines of bounded
// length. It never holds more than the limit plus one buffer in memory.
type LineReader struct {
	br  *bufio.Reader
	max int
	acc []byte // a line that spans buffer refills
	err error  // sticky error after a too-long line
}

// NewLineReader reads lines of at most max bytes (without the newline)
// from r; max <= 0 means DefaultMaxLine.
func NewLineReader(r io.Reader, max int) *LineReader {
	if max <= 0 {
		max = DefaultMaxLine
	}
	return &LineReader{br: bufio.NewReaderSize(r, min(readBufSize, max+1)), max: max}
}

// ReadLine returns the next line without its newline. The slice is valid
// only until the next call. A line longer than the limit is ErrLineTooLong,
// detected as soon as the limit is passed; a stream that ends inside a line
// is io.ErrUnexpectedEOF; a stream that ends between lines is io.EOF. Other
// read errors are returned as they are, so callers can test them.
func (lr *LineReader) ReadLine() ([]byte, error) {
	if lr.err != nil {
		return nil, lr.err
	}
	lr.acc = lr.acc[:0]
	for {
		chunk, err := lr.br.ReadSlice('\n')
		complete := err == nil
		if complete {
			chunk = chunk[:len(chunk)-1]
		}
		if len(lr.acc)+len(chunk) > lr.max {
			lr.err = ErrLineTooLong
			return nil, lr.err
		}
		if complete && len(lr.acc) == 0 {
			return chunk, nil // fast path: the whole line is in the buffer
		}
		lr.acc = append(lr.acc, chunk...)
		switch {
		case complete:
			return lr.acc, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(lr.acc) > 0:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// encoders are reused so that writing a response does not allocate a
// buffer and an encoder each time.
var encoders = sync.Pool{New: func() any { return newLineEncoder() }}

type lineEncoder struct {
	buf  bytes.Buffer
	enc  *json.Encoder
	line []byte // a Response written without reflection (wire_append.go)
}

func newLineEncoder() *lineEncoder {
	e := &lineEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}

// maxPooled keeps one large response from pinning its buffer forever.
const maxPooled = 64 << 10

// WriteMessage writes v as one JSON line in a single Write, so that
// concurrent writers cannot interleave and a reader sees whole lines.
func WriteMessage(w io.Writer, v any) error {
	e := encoders.Get().(*lineEncoder)
	defer e.release()
	var line []byte
	if r, ok := v.(*Response); ok {
		// The answer to every request: the same bytes as the encoder
		// below would write (wire_append_test.go), without reflection.
		e.line = r.appendLine(e.line[:0])
		line = e.line
	} else {
		if err := e.enc.Encode(v); err != nil { // Encode appends the newline
			return fmt.Errorf("encode message: %w", err)
		}
		line = e.buf.Bytes()
	}
	n, err := w.Write(line)
	if err == nil && n < len(line) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return fmt.Errorf("write message: %w", err)
	}
	return nil
}

// release wipes the buffer (it may have held secret values) and returns
// the encoder to the pool unless the buffer grew large.
func (e *lineEncoder) release() {
	clear(e.buf.Bytes())
	e.buf.Reset()
	clear(e.line)
	e.line = e.line[:0]
	if e.buf.Cap() <= maxPooled && cap(e.line) <= maxPooled {
		encoders.Put(e)
	}
}
