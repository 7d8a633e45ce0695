package cleaner

import (
	"bytes"
	"encoding/json"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

var jsonOptions = protojson.MarshalOptions{UseProtoNames: true}

// JSON renders an article as the cleaned-article document: protojson with
// the schema's field names, indented, ending in a newline. `pressline
// clean` prints it and the clean service stores it, byte for byte.
//
// protojson varies its whitespace on purpose so that nobody depends on
// it; re-indenting with encoding/json makes the document stable, which
// golden files and the byte-for-byte promise need.
func JSON(a *pb.Article) ([]byte, error) {
	compact, err := jsonOptions.Marshal(a)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact, "", "  "); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// BodyText is an article's body as plain text, a paragraph a line: the
// lead, then every block's text in reading order (headings, paragraphs,
// quotes, list items, table cells, code), images' captions left out. It
// is what word counts and extraction scores read.
func BodyText(a *pb.Article) string {
	var parts []string
	if a.GetLead() != "" {
		parts = append(parts, a.GetLead())
	}
	for _, b := range a.GetBlocks() {
		parts = append(parts, blockText(b)...)
	}
	return strings.Join(parts, "\n")
}

// blockText is the text of one block, a piece a paragraph: a list's
// items, a table's cells, an embed's words.
func blockText(b *pb.Block) []string {
	switch k := b.GetKind().(type) {
	case *pb.Block_Paragraph:
		return []string{k.Paragraph.GetText()}
	case *pb.Block_Heading:
		return []string{k.Heading.GetText()}
	case *pb.Block_Quote:
		return []string{k.Quote.GetText()}
	case *pb.Block_List:
		return listText(k.List)
	case *pb.Block_Table:
		var out []string
		for _, row := range append(append([]*pb.TableRow{}, k.Table.GetHeader()...), k.Table.GetRows()...) {
			var cells []string
			for _, c := range row.GetCells() {
				if c.GetText() != "" {
					cells = append(cells, c.GetText())
				}
			}
			if len(cells) > 0 {
				out = append(out, strings.Join(cells, " "))
			}
		}
		return out
	case *pb.Block_Code:
		return []string{k.Code.GetText()}
	case *pb.Block_Embed:
		if t := k.Embed.GetText(); t != "" {
			return []string{t}
		}
	}
	return nil
}

func listText(l *pb.List) []string {
	var out []string
	for _, it := range l.GetItems() {
		if it.GetText() != "" {
			out = append(out, it.GetText())
		}
		for _, sub := range it.GetLists() {
			out = append(out, listText(sub)...)
		}
	}
	return out
}
