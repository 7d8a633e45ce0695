package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/pressline/pressline/internal/config"
)

// cmdToken makes a newsroom API token: the token to give the newsroom,
// and the entry (with only its hash) for the newsrooms file.
func cmdToken(args []string, stdout io.Writer) error {
	if len(args) < 2 {
		return errors.New("usage: pressline token NEWSROOM SITE...")
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	token := "pl_" + hex.EncodeToString(raw)
	hash := config.HashToken(token)
	entry, err := json.Marshal(map[string]any{"name": args[0], "token_sha256": hex.EncodeToString(hash[:]), "sites": args[1:]})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "token (give it to the newsroom; it is not stored): %s\nentry for --newsrooms-file: %s\n", token, entry)
	return nil
}
