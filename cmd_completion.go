package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// completionShells are the shells `completion` writes a script for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

// completionCommand prints a static completion script built from the
// command tree. Static on purpose: pressing Tab never runs keychain-auth,
// and the script a package installs matches the binary it came with.
func completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh, fish or powershell)",
		ArgsUsage: "SHELL",
		Description: "bash:       source <(keychain-auth completion bash)\n" +
			"zsh:        source <(keychain-auth completion zsh)   (or save as _keychain-auth in $fpath)\n" +
			"fish:       keychain-auth completion fish | source\n" +
			"powershell: keychain-auth completion powershell | Out-String | Invoke-Expression\n" +
			"Release archives and the Linux packages carry these scripts already.",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError("completion takes one shell name: %s", strings.Join(completionShells, ", "))
			}
			return writeCompletion(c.App.Writer, c.App, c.Args().First())
		},
	}
}

func writeCompletion(w io.Writer, app *cli.App, shell string) error {
	m := completionModel(app)
	var script string
	switch shell {
	case "bash":
		script = bashCompletion(m)
	case "zsh":
		script = zshCompletion(m)
	case "fish":
		script = fishCompletion(m)
	case "powershell", "pwsh":
		script = powershellCompletion(m)
	default:
		return usageError("no completion for shell %q", shell).hint("choose one of: %s", strings.Join(completionShells, ", "))
	}
	_, err := io.WriteString(w, script)
	return err
}

type complFlag struct {
	name  string // with its dashes: "--read", "-n"
	usage string
	value bool // takes the next word as its value
}

type complCommand struct {
	names []string // the name, then its aliases
	usage string
	flags []complFlag
	words []string // fixed choices for the positional arguments, if any
}

type complModel struct {
	global   []complFlag
	commands []complCommand
}

func completionModel(app *cli.App) complModel {
	app.Setup() // adds --help and --version; idempotent enough for a fresh app
	m := complModel{global: complFlags(app.VisibleFlags())}
	var names []string
	for _, cmd := range app.VisibleCommands() {
		names = append(names, cmd.Name)
	}
	for _, cmd := range app.VisibleCommands() {
		// Every command takes --help, but the library adds it to a command
		// only when that command runs: list it for all, once.
		flags := slices.DeleteFunc(slices.Clone(cmd.VisibleFlags()), func(f cli.Flag) bool { return f == cli.HelpFlag })
		cc := complCommand{names: cmd.Names(), usage: oneLine(cmd.Usage), flags: complFlags(append(flags, cli.HelpFlag))}
		switch cmd.Name {
		case "completion":
			cc.words = completionShells
		case "help":
			cc.words = names
		}
		m.commands = append(m.commands, cc)
	}
	return m
}

func complFlags(flags []cli.Flag) []complFlag {
	var out []complFlag
	for _, f := range flags {
		usage, value := "", false
		if df, ok := f.(cli.DocGenerationFlag); ok {
			usage, value = oneLine(df.GetUsage()), df.TakesValue()
		}
		for _, n := range f.Names() {
			dash := "--"
			if len(n) == 1 {
				dash = "-"
			}
			out = append(out, complFlag{name: dash + n, usage: usage, value: value})
		}
	}
	return out
}

func oneLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

func flagNames(flags []complFlag, onlyValued bool) []string {
	var out []string
	for _, f := range flags {
		if !onlyValued || f.value {
			out = append(out, f.name)
		}
	}
	return out
}

func (m complModel) commandNames() []string {
	var out []string
	for _, c := range m.commands {
		out = append(out, c.names...)
	}
	return out
}

// shellQuote quotes s for bash, zsh and fish: in single quotes, where a
// single quote inside is written as quote, backslash, quote, quote.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func bashCompletion(m complModel) string {
	var b strings.Builder
	b.WriteString(`# bash completion for keychain-auth (keychain-auth completion bash).
# Load it with: source <(keychain-auth completion bash)
# or install it as /usr/share/bash-completion/completions/keychain-auth.
_keychain_auth() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmd= i words= flags= valued=
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
`)
	if v := flagNames(m.global, true); len(v) > 0 {
		fmt.Fprintf(&b, "\t\t%s) ((i++)) ;;\n", strings.Join(v, "|"))
	}
	b.WriteString("\t\t-*) ;;\n\t\t*) cmd=${COMP_WORDS[i]}; break ;;\n\t\tesac\n\tdone\n\tcase $cmd in\n")
	fmt.Fprintf(&b, "\t'') words=%s ;;\n",
		shellQuote(strings.Join(append(m.commandNames(), flagNames(m.global, false)...), " ")))
	for _, c := range m.commands {
		fmt.Fprintf(&b, "\t%s)\n\t\tflags=%s\n\t\tvalued=%s\n\t\twords=%s\n\t\t;;\n",
			strings.Join(c.names, "|"),
			shellQuote(strings.Join(flagNames(c.flags, false), " ")),
			shellQuote(" "+strings.Join(flagNames(c.flags, true), " ")+" "),
			shellQuote(strings.Join(c.words, " ")))
	}
	b.WriteString(`	*) return ;;
	esac
	if [[ -n $cmd ]]; then
		# After a flag that takes a value, or at a path argument, leave the
		# word to bash's default (file names).
		[[ $valued == *" $prev "* ]] && return
		[[ $cur == -* ]] && words=$flags
	fi
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o default -F _keychain_auth keychain-auth
`)
	return b.String()
}

// zshDescribe writes one _describe entry: word:description.
func zshDescribe(word, usage string) string {
	return shellQuote(strings.ReplaceAll(word, ":", `\:`) + ":" + usage)
}

func zshCompletion(m complModel) string {
	var b strings.Builder
	b.WriteString(`#compdef keychain-auth
# zsh completion for keychain-auth (keychain-auth completion zsh).
# Install it as _keychain-auth in a directory of $fpath, or load it with:
# source <(keychain-auth completion zsh)
_keychain-auth() {
	local -a commands global flags valued args
	local cmd= i
	commands=(
`)
	for _, c := range m.commands {
		for _, n := range c.names {
			fmt.Fprintf(&b, "\t\t%s\n", zshDescribe(n, c.usage))
		}
	}
	b.WriteString("\t)\n\tglobal=(\n")
	for _, f := range m.global {
		fmt.Fprintf(&b, "\t\t%s\n", zshDescribe(f.name, f.usage))
	}
	b.WriteString("\t)\n\tfor ((i = 2; i < CURRENT; i++)); do\n\t\tcase $words[i] in\n")
	if v := flagNames(m.global, true); len(v) > 0 {
		fmt.Fprintf(&b, "\t\t%s) ((i++)) ;;\n", strings.Join(v, "|"))
	}
	b.WriteString("\t\t-*) ;;\n\t\t*) cmd=$words[i]; break ;;\n\t\tesac\n\tdone\n\tcase $cmd in\n")
	b.WriteString("\t'')\n\t\tif [[ $PREFIX == -* ]]; then _describe -t options option global\n" +
		"\t\telse _describe -t commands command commands; fi\n\t\treturn ;;\n")
	for _, c := range m.commands {
		fmt.Fprintf(&b, "\t%s)\n\t\tflags=(", strings.Join(c.names, "|"))
		for _, f := range c.flags {
			b.WriteString(" " + zshDescribe(f.name, f.usage))
		}
		b.WriteString(" )\n\t\tvalued=(")
		for _, n := range flagNames(c.flags, true) {
			b.WriteString(" " + n)
		}
		b.WriteString(" )\n\t\targs=(")
		for _, w := range c.words {
			b.WriteString(" " + shellQuote(w))
		}
		b.WriteString(" )\n\t\t;;\n")
	}
	b.WriteString(`	*) return 1 ;;
	esac
	if (( ${valued[(Ie)$words[CURRENT-1]]} )); then _files
	elif [[ $PREFIX == -* ]]; then _describe -t options option flags
	elif (( $#args )); then compadd -a args
	else _files; fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
	_keychain-auth "$@"
else
	compdef _keychain-auth keychain-auth
fi
`)
	return b.String()
}

func fishCompletion(m complModel) string {
	var b strings.Builder
	b.WriteString(`# fish completion for keychain-auth (keychain-auth completion fish).
# Install it as ~/.config/fish/completions/keychain-auth.fish, or load it with:
# keychain-auth completion fish | source
complete -c keychain-auth -e
complete -c keychain-auth -n __fish_use_subcommand -f
`)
	fishFlag := func(cond string, f complFlag) {
		opt := "-l " + f.name[2:]
		if !strings.HasPrefix(f.name, "--") {
			opt = "-s " + f.name[1:]
		}
		if f.value {
			opt += " -r"
		}
		fmt.Fprintf(&b, "complete -c keychain-auth -n %s %s -d %s\n", shellQuote(cond), opt, shellQuote(f.usage))
	}
	for _, f := range m.global {
		fishFlag("__fish_use_subcommand", f)
	}
	for _, c := range m.commands {
		for _, n := range c.names {
			fmt.Fprintf(&b, "complete -c keychain-auth -n __fish_use_subcommand -a %s -d %s\n", shellQuote(n), shellQuote(c.usage))
		}
		cond := "__fish_seen_subcommand_from " + strings.Join(c.names, " ")
		for _, f := range c.flags {
			fishFlag(cond, f)
		}
		if len(c.words) > 0 {
			fmt.Fprintf(&b, "complete -c keychain-auth -n %s -f -a %s\n", shellQuote(cond), shellQuote(strings.Join(c.words, " ")))
		}
	}
	return b.String()
}

// psQuote quotes s for PowerShell: single quotes, a single quote doubled.
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func psList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = psQuote(w)
	}
	return "@(" + strings.Join(q, ", ") + ")"
}

func powershellCompletion(m complModel) string {
	var b strings.Builder
	b.WriteString(`# PowerShell completion for keychain-auth (keychain-auth completion powershell).
# Load it with (add the line to $PROFILE to keep it):
# keychain-auth completion powershell | Out-String | Invoke-Expression
Register-ArgumentCompleter -Native -CommandName 'keychain-auth', 'keychain-auth.exe' -ScriptBlock {
	param($wordToComplete, $commandAst, $cursorPosition)
	$commands = [ordered]@{
`)
	for _, c := range m.commands {
		for _, n := range c.names {
			fmt.Fprintf(&b, "\t\t%s = @{ flags = %s; words = %s }\n", psQuote(n), psList(flagNames(c.flags, false)), psList(c.words))
		}
	}
	fmt.Fprintf(&b, "\t}\n\t$global = %s\n\t$globalValued = %s\n", psList(flagNames(m.global, false)), psList(flagNames(m.global, true)))
	b.WriteString(`	$cmd = $null
	$skip = $false
	foreach ($element in @($commandAst.CommandElements | Select-Object -Skip 1)) {
		if ($element.Extent.EndOffset -ge $cursorPosition) { break }
		$text = $element.ToString()
		if ($skip) { $skip = $false; continue }
		if ($globalValued -contains $text) { $skip = $true; continue }
		if (-not $text.StartsWith('-')) { $cmd = $text; break }
	}
	if ($null -eq $cmd) {
		$candidates = @($commands.Keys) + $global
	} elseif (-not $commands.Contains($cmd)) {
		return
	} elseif ($wordToComplete.StartsWith('-')) {
		$candidates = $commands[$cmd].flags
	} else {
		$candidates = $commands[$cmd].words
	}
	$candidates | Where-Object { $_ -like "$wordToComplete*" } | ForEach-Object {
		[System.Management.Automation.CompletionResult]::new($_, $_, 'ParameterValue', $_)
	}
}
`)
	return b.String()
}
