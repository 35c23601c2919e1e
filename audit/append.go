package audit

import (
	"time"

	"github.com/keychain-auth/keychain-auth/internal/jsonw"
)

// appendLine appends r and a newline as json.Marshal writes a Record
// (HTML characters escaped, fields in struct order, empty ones left out as
// their tags say), without reflection. ok is false for a time that
// json.Marshal would refuse (a year outside 0-9999): the caller then uses
// json.Marshal and reports its error. append_test.go compares the two
// byte for byte.
func (r *Record) appendLine(dst []byte) (_ []byte, ok bool) {
	if y := r.Time.Year(); y < 0 || y > 9999 {
		return dst, false
	}
	if _, off := r.Time.Zone(); off <= -24*3600 || off >= 24*3600 {
		return dst, false
	}
	dst = append(dst, `{"time":"`...)
	dst = r.Time.AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	if r.PID != 0 {
		dst = jsonw.Key(dst, "pid")
		dst = jsonw.Int(dst, int64(r.PID))
	}
	dst = jsonw.Key(dst, "uid")
	dst = jsonw.Uint(dst, uint64(r.UID))
	dst = optString(dst, "path", r.Path)
	dst = optString(dst, "hash", r.Hash)
	dst = optString(dst, "script", r.Script)
	dst = optString(dst, "service", r.Service)
	dst = optString(dst, "action", r.Action)
	dst = optString(dst, "match", r.Match)
	if len(r.Targets) > 0 {
		dst = jsonw.Key(dst, "targets")
		dst = jsonw.Strings(dst, r.Targets, true)
	}
	dst = jsonw.Key(dst, "status")
	dst = jsonw.String(dst, r.Status, true)
	dst = optString(dst, "reason", r.Reason)
	if c := r.Courier; c != nil {
		dst = jsonw.Key(dst, "courier")
		dst = append(dst, `{"pid":`...)
		dst = jsonw.Int(dst, int64(c.PID))
		dst = jsonw.Key(dst, "path")
		dst = jsonw.String(dst, c.Path, true)
		dst = jsonw.Key(dst, "hash")
		dst = jsonw.String(dst, c.Hash, true)
		dst = append(dst, '}')
	}
	dst = optString(dst, "assurance", r.Assurance)
	if len(r.RelaxedEnv) > 0 {
		dst = jsonw.Key(dst, "relaxed_env")
		dst = jsonw.Strings(dst, r.RelaxedEnv, true)
	}
	dst = optString(dst, "detail", r.Detail)
	return append(dst, '}', '\n'), true
}

func optString(dst []byte, name, s string) []byte {
	if s == "" {
		return dst
	}
	dst = jsonw.Key(dst, name)
	return jsonw.String(dst, s, true)
}
