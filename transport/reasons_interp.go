package transport

// Reasons for a script run otherwise than its entry pins (config
// Interpreter, taken from the #! line at registration).
const (
	// ReasonInterpreterMismatch (denied): the script runs under another
	// interpreter than its entry names, or under an interpreter file whose
	// content changed where the entry pins it by hash.
	ReasonInterpreterMismatch = "interpreter_mismatch"
	// ReasonInterpreterOptionsMismatch (denied): the script's interpreter
	// runs with other options than its entry names (python3 without the
	// -I of its #! line, bash with an option added or dropped).
	ReasonInterpreterOptionsMismatch = "interpreter_options_mismatch"
)
