package dataset

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// gzipMagic starts every gzip stream (RFC 1952).
var gzipMagic = [2]byte{0x1f, 0x8b}

// decompress returns r itself, or a gzip reader over it when r starts with the gzip magic
// bytes. The result is buffered. Errors are reasons; the caller says where.
func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(head) < 2 || head[0] != gzipMagic[0] || head[1] != gzipMagic[1] {
		return br, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("bad gzip header: %w", err)
	}
	return bufio.NewReaderSize(zr, 1<<16), nil
}

// stickyReader remembers the first read error other than io.EOF, which encoding/csv
// would otherwise drop after a partial last line (a truncated gzip stream).
type stickyReader struct {
	r   io.Reader
	err error
}

func (s *stickyReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && s.err == nil {
		s.err = err
	}
	return n, err
}

// truncatedOr describes a read error, naming truncation when it is one.
func truncatedOr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("input ends early (truncated file or gzip stream): %w", err)
	}
	return fmt.Errorf("read: %w", err)
}

// causeError is a reason with its own message that still matches a sentinel.
type causeError struct {
	msg   string
	cause error
}

func (e causeError) Error() string { return e.msg }
func (e causeError) Unwrap() error { return e.cause }
