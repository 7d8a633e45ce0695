package ingest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// submission is a checked request: the article and the files with it.
type submission struct {
	body        []byte
	contentType string
	files       []file
	// location is where the article came from (Content-Location), for
	// its relative links; empty when not said.
	location string
	// externalID is the newsroom's External-Id, when it sent one.
	externalID string
}

// file is an uploaded file, spooled to a temporary file as it arrives:
// a request of many large photos is never held in memory.
type file struct {
	name, contentType string
	spool             *os.File
	size              int64
}

// content reads the file from its start.
func (f file) content() io.Reader { return io.NewSectionReader(f.spool, 0, f.size) }

// close removes the submission's spooled files.
func (s *submission) close() {
	for _, f := range s.files {
		f.spool.Close()
		os.Remove(f.spool.Name())
	}
}

// readSingle reads a request whose whole body is the article.
func (s *Service) readSingle(w http.ResponseWriter, r *http.Request, ct string) (*submission, *problem) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if p := readProblem(err, s.cfg.MaxBodyBytes, ""); p != nil {
		return nil, p
	}
	if p := checkArticle(ct, body, "body"); p != nil {
		return nil, p
	}
	return &submission{body: body, contentType: ct}, nil
}

func readProblem(err error, limit int64, field string) *problem {
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &tooBig):
		return &problem{Status: http.StatusRequestEntityTooLarge, Type: "body-too-large", Limit: limit, Field: field,
			Detail: fmt.Sprintf("the request is larger than the limit of %d bytes; split it or ask an operator to raise the limit", limit)}
	default:
		return &problem{Status: http.StatusBadRequest, Type: "body-unreadable", Field: field, Detail: "the request body could not be read: " + err.Error()}
	}
}
