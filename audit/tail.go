package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
)

// maxRotated bounds how many rotated files Tail looks through.
const maxRotated = 100

// Tail returns the last n records across the log at path and its rotated
// files (path.1, path.2, ...), oldest first. A final line without its
// newline (a write cut short by a crash) is skipped; any other line that
// does not parse is an error naming the file and line, because an audit
// reader should not quietly hide lines. A missing log is no records.
func Tail(path string, n int) ([]Record, error) {
	var out []Record // newest first while collecting
	for i := 0; i <= maxRotated && len(out) < n; i++ {
		name := path
		if i > 0 {
			name = rotated(path, i)
		}
		recs, err := readFile(name)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("audit tail: %w", err)
		}
		for j := len(recs) - 1; j >= 0 && len(out) < n; j-- {
			out = append(out, recs[j])
		}
	}
	slices.Reverse(out)
	return out, nil
}

// readFile parses every complete line of one log file. Files are bounded
// by the rotation size, so reading one whole is fine.
func readFile(name string) ([]Record, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, err
	}
	if i := bytes.LastIndexByte(data, '\n'); i < len(data)-1 {
		data = data[:i+1] // drop a torn last line
	}
	var recs []Record
	for lineNo, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, lineNo+1, err)
		}
		recs = append(recs, r)
	}
	return recs, nil
}
