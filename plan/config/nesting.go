package config

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// MaxNesting is how deeply a configuration file, variables file or --var
// value may nest. The HCL parser and evaluator recurse once per level, and
// tens of thousands of levels exhaust the stack, which is a crash rather
// than a diagnostic; real configurations stay below ten.
//
// A level is an open bracket, brace or parenthesis, a quoted string or
// heredoc, a template sequence (${ or %{), an %{if} or %{for} directive
// until its %{endif} or %{endfor}, a conditional (?) of the expression
// being parsed, or a unary operator (! or -) in a row of them.
const MaxNesting = 1000

// nestingFrame is one open level of the token stream.
type nestingFrame struct {
	open hclsyntax.TokenType // an opening token, or a directive (below)
	cond int                 // conditionals counted in this frame
	// then is the directive an %{if …} or %{for …} sequence opens when it
	// ends.
	then hclsyntax.TokenType
}

// directiveIf and directiveFor are the frames of template directives; they
// are not token types the lexer emits.
const (
	directiveIf  hclsyntax.TokenType = -1
	directiveFor hclsyntax.TokenType = -2
)

// closers maps a closing token to the opening tokens it ends.
var closers = map[hclsyntax.TokenType][]hclsyntax.TokenType{
	hclsyntax.TokenCBrace:         {hclsyntax.TokenOBrace},
	hclsyntax.TokenCBrack:         {hclsyntax.TokenOBrack},
	hclsyntax.TokenCParen:         {hclsyntax.TokenOParen},
	hclsyntax.TokenCQuote:         {hclsyntax.TokenOQuote},
	hclsyntax.TokenCHeredoc:       {hclsyntax.TokenOHeredoc},
	hclsyntax.TokenTemplateSeqEnd: {hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl},
}

// checkNesting reports an error when src nests deeper than MaxNesting (see
// there for what counts as a level); expr says src is a single expression
// (a --var value) rather than a file. It only lexes src, which is done
// without recursion, so it is safe on any input; it is run before the
// parser. Closing tokens end a level only when they match it, so a
// well-formed file is measured exactly and a malformed one never less
// deeply than the parser will see it.
//
// Lexing costs about half as much again as parsing, so it is skipped when
// a count of bytes shows that src cannot nest that deeply: each open level
// started with a byte of levelBytes of its own (a directive with the brace
// of its %{, which is closed by then).
func checkNesting(src []byte, filename string, expr bool) hcl.Diagnostics {
	if countLevelBytes(src) <= MaxNesting {
		return nil
	}
	lex := hclsyntax.LexConfig
	if expr {
		lex = hclsyntax.LexExpression
	}
	tokens, _ := lex(src, filename, hcl.InitialPos)
	var stack []nestingFrame
	conds := 0 // sum of the frames' cond, plus top
	top := 0   // conditionals outside any frame
	unary := 0 // unary operators in a row up to here
	cur := func() *int {
		if len(stack) == 0 {
			return &top
		}
		return &stack[len(stack)-1].cond
	}
	endConds := func() {
		c := cur()
		conds -= *c
		*c = 0
	}
	pop := func() {
		endConds()
		then := stack[len(stack)-1].then
		stack = stack[:len(stack)-1]
		if then != 0 {
			stack = append(stack, nestingFrame{open: then})
		}
	}
	for i, tok := range tokens {
		if tok.Type == hclsyntax.TokenMinus || tok.Type == hclsyntax.TokenBang {
			unary++
		} else {
			unary = 0
		}
		switch tok.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp:
			stack = append(stack, nestingFrame{open: tok.Type})
		case hclsyntax.TokenTemplateControl:
			// %{ if …} and %{ for …} open a level that %{ endif } and
			// %{ endfor } close; the sequence itself is a level too.
			var word string
			for _, next := range tokens[i+1:] {
				if next.Type == hclsyntax.TokenComment || next.Type == hclsyntax.TokenNewline {
					continue
				}
				if next.Type == hclsyntax.TokenIdent {
					word = string(next.Bytes)
				}
				break
			}
			f := nestingFrame{open: tok.Type}
			switch n := len(stack); {
			case word == "if":
				f.then = directiveIf
			case word == "for":
				f.then = directiveFor
			case word == "endif" && n > 0 && stack[n-1].open == directiveIf,
				word == "endfor" && n > 0 && stack[n-1].open == directiveFor:
				pop()
			}
			stack = append(stack, f)
		case hclsyntax.TokenQuestion:
			*cur()++
			conds++
		case hclsyntax.TokenComma:
			endConds()
		case hclsyntax.TokenNewline, hclsyntax.TokenComment:
			// A newline ends an expression at the top and in braces; in
			// brackets, parentheses and template sequences it is ignored.
			// A line comment ends with the newline.
			if tok.Type == hclsyntax.TokenComment && !bytes.HasSuffix(tok.Bytes, []byte("\n")) {
				break
			}
			if n := len(stack); n == 0 || stack[n-1].open == hclsyntax.TokenOBrace {
				endConds()
			}
		default:
			if opens, ok := closers[tok.Type]; ok {
				if n := len(stack); n > 0 && slices.Contains(opens, stack[n-1].open) {
					pop()
				}
			}
		}
		if depth := len(stack) + conds + unary; depth > MaxNesting {
			rng := tok.Range
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Nesting too deep",
				Detail: fmt.Sprintf("Nesting deeper than %d levels (of brackets, braces, parentheses, strings, templates, conditionals or unary operators) is refused: planb does not parse input that could exhaust its stack.",
					MaxNesting),
				Subject: &rng,
			}}
		}
	}
	return nil
}

// levelBytes are the bytes that can start a level: brackets, braces and
// parentheses (also of ${ and %{), quotes, heredocs (<<), conditionals and
// unary operators.
const levelBytes = `[{("<?!-`

var isLevelByte = func() (is [256]bool) {
	for _, c := range []byte(levelBytes) {
		is[c] = true
	}
	return is
}()

// countLevelBytes counts the bytes of src that are in levelBytes.
func countLevelBytes(src []byte) int {
	n := 0
	for _, c := range src {
		if isLevelByte[c] {
			n++
		}
	}
	return n
}

// parseConfig parses a file of native HCL syntax after checking that it
// does not nest too deeply; a file that does is not parsed (the result is
// nil) and the diagnostics say where it goes too deep.
func parseConfig(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	if diags := checkNesting(src, filename, false); diags.HasErrors() {
		return nil, diags
	}
	return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
}
