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
// until its %{endif} or %{endfor}, and within one expression (up to the
// next comma, or newline outside brackets and parentheses) each operator
// (unary, binary or conditional) and each index or call that ended in it:
// a + b + c or x[a][b] is parsed in a loop but evaluated recursively.
const MaxNesting = 1000

// nestingFrame is one open level of the token stream.
type nestingFrame struct {
	open hclsyntax.TokenType // an opening token, or a directive (below)
	ops  int                 // operators and postfixes of the current expression
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

// operators are the tokens of unary, binary and conditional operators.
var operators = map[hclsyntax.TokenType]bool{
	hclsyntax.TokenPlus: true, hclsyntax.TokenMinus: true, hclsyntax.TokenStar: true,
	hclsyntax.TokenSlash: true, hclsyntax.TokenPercent: true, hclsyntax.TokenBang: true,
	hclsyntax.TokenEqualOp: true, hclsyntax.TokenNotEqual: true,
	hclsyntax.TokenLessThan: true, hclsyntax.TokenLessThanEq: true,
	hclsyntax.TokenGreaterThan: true, hclsyntax.TokenGreaterThanEq: true,
	hclsyntax.TokenAnd: true, hclsyntax.TokenOr: true, hclsyntax.TokenQuestion: true,
}

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
// malformed file is never measured less deeply than a well-formed one
// would be.
//
// Lexing costs about half as much again as parsing, so it is skipped when
// a count of bytes shows that src cannot nest that deeply: each level
// counted comes with a byte of levelBytes of its own (a directive with the
// brace of its %{, which is closed by then).
func checkNesting(src []byte, filename string, expr bool) hcl.Diagnostics {
	if countLevelBytes(src) <= MaxNesting {
		return nil
	}
	depth, rng := nestingDepth(src, filename, expr, MaxNesting)
	if depth <= MaxNesting {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Nesting too deep",
		Detail: fmt.Sprintf("Nesting deeper than %d levels (of brackets, braces, parentheses, strings, templates, or operators in one expression) is refused: planb does not parse input that could exhaust its stack.",
			MaxNesting),
		Subject: &rng,
	}}
}

// nestingDepth returns how deeply src nests, and the range of a token at that depth;
// once the depth exceeds limit, it returns at the first token that does.
func nestingDepth(src []byte, filename string, expr bool, limit int) (int, hcl.Range) {
	lex := hclsyntax.LexConfig
	if expr {
		lex = hclsyntax.LexExpression
	}
	tokens, _ := lex(src, filename, hcl.InitialPos)
	maxDepth, at := 0, hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
	var stack []nestingFrame
	ops := 0 // sum of the frames' ops, plus top
	top := 0 // operators outside any frame
	cur := func() *int {
		if len(stack) == 0 {
			return &top
		}
		return &stack[len(stack)-1].ops
	}
	addOp := func() {
		*cur()++
		ops++
	}
	endExpr := func() {
		c := cur()
		ops -= *c
		*c = 0
	}
	pop := func() {
		endExpr()
		then := stack[len(stack)-1].then
		stack = stack[:len(stack)-1]
		if then != 0 {
			stack = append(stack, nestingFrame{open: then})
		}
	}
	for i, tok := range tokens {
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
		case hclsyntax.TokenComma:
			endExpr()
		case hclsyntax.TokenNewline, hclsyntax.TokenComment:
			// A newline ends an expression at the top and in braces; in
			// brackets, parentheses and template sequences it is ignored.
			// A line comment ends with the newline.
			if tok.Type == hclsyntax.TokenComment && !bytes.HasSuffix(tok.Bytes, []byte("\n")) {
				break
			}
			if n := len(stack); n == 0 || stack[n-1].open == hclsyntax.TokenOBrace {
				endExpr()
			}
		default:
			if operators[tok.Type] {
				addOp()
				break
			}
			opens, ok := closers[tok.Type]
			if n := len(stack); !ok || n == 0 || !slices.Contains(opens, stack[n-1].open) {
				break
			}
			pop()
			if tok.Type == hclsyntax.TokenCBrack || tok.Type == hclsyntax.TokenCParen {
				// An index or a call: the expression goes on around it.
				addOp()
			}
		}
		if depth := len(stack) + ops; depth > maxDepth {
			maxDepth, at = depth, tok.Range
			if depth > limit {
				break
			}
		}
	}
	return maxDepth, at
}

// levelBytes are the bytes that can start a level: brackets, braces and
// parentheses (also of ${ and %{), quotes, heredocs (<<), operators, and
// the closing brackets and parentheses of indexes and calls.
const levelBytes = `[{("<?!-+*/%=>&|])`

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
