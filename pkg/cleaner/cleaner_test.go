package cleaner

import (
	"errors"
	"os"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/pressline/pressline/proto/pressline/v1"
)

func para(s string) *pb.Block {
	return &pb.Block{Kind: &pb.Block_Paragraph{Paragraph: &pb.Paragraph{Text: s}}}
}

func TestClean(t *testing.T) {
	hcm, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   string
		want *pb.Article
	}{
		{
			name: "vietnamese with time, kicker and stray glyph",
			in:   "X\n08:15 | 02/03/2022\n\nHà Nội:\n\nMở rộng đường vành đai\n\nSáng nay, thành phố khởi công.\n\nDự án dài 5 km.\n",
			want: &pb.Article{PublishedAt: "2022-03-02T08:15:00+07:00", Kicker: "Hà Nội", Title: "Mở rộng đường vành đai",
				Lead: "Sáng nay, thành phố khởi công.", Blocks: []*pb.Block{para("Dự án dài 5 km.")}},
		},
		{
			name: "english, CRLF, BOM, no time",
			in:   "\ufeffCouncil approves budget\r\n\r\nThe council voted 7-2 on Tuesday.\r\nWork starts in May.\r\n",
			want: &pb.Article{Title: "Council approves budget", Lead: "The council voted 7-2 on Tuesday.", Blocks: []*pb.Block{para("Work starts in May.")}},
		},
		{
			name: "NFD in, NFC out; odd spaces collapsed",
			in:   "Tie\u0302\u0301u \u0111e\u0302\u0300\n\nMo\u0323\u0302t  \u00a0 \u0111oa\u0323n.\n",
			want: &pb.Article{Title: "Tiếu đề", Lead: "Một đoạn."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Clean([]byte(tt.in), Options{Location: hcm})
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	for in, want := range map[string]error{"\xff\xfe\x00bad": ErrNotUTF8, " \n\n \r\n": ErrEmpty, "M\n\n": ErrEmpty} {
		if _, err := Clean([]byte(in), Options{}); !errors.Is(err, want) {
			t.Errorf("Clean(%q) = %v, want %v", in, err, want)
		}
	}
}

// The sample the project started from flows: title, kicker and time are
// found. Its debris is the clean issue's work.
func TestSampleFlows(t *testing.T) {
	raw, err := os.ReadFile("../../../shared/samples/quoc-oai.txt")
	if err != nil {
		t.Fatal(err)
	}
	hcm, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	a, err := Clean(raw, Options{Location: hcm})
	if err != nil {
		t.Fatal(err)
	}
	if a.Title != "Xây dựng tổ chức Đảng trong sạch, vững mạnh" || a.Kicker != "Quốc Oai" || a.PublishedAt != "2018-01-23T13:03:00+07:00" {
		t.Errorf("title %q kicker %q time %q", a.Title, a.Kicker, a.PublishedAt)
	}
}
