package cleaner

import (
	"bytes"
	"encoding/json"

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
