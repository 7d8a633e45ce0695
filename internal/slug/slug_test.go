package slug

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMake(t *testing.T) {
	for _, tc := range []struct{ title, want string }{
		{"Xây dựng tổ chức Đảng trong sạch, vững mạnh", "xay-dung-to-chuc-dang-trong-sach-vung-manh"},
		{"Phường Quốc Oai: Đối thoại với nhân dân năm 2025", "phuong-quoc-oai-doi-thoai-voi-nhan-dan-nam-2025"},
		{"ĐẠI HỘI ĐẢNG BỘ XÃ", "dai-hoi-dang-bo-xa"},
		{"Rotterdam's port reopens after 3-day strike", "rotterdams-port-reopens-after-3-day-strike"},
		{"  --Leading and trailing!!  ", "leading-and-trailing"},
		{"Crème brûlée à Øresund, Straße", "creme-brulee-a-oresund-strasse"},
		{"北京 新闻", ""},
		{"COVID-19: 2,5 triệu liều vắc-xin", "covid-19-2-5-trieu-lieu-vac-xin"},
		{"", ""},
	} {
		if got := Make(tc.title); got != tc.want {
			t.Errorf("Make(%q) = %q, want %q", tc.title, got, tc.want)
		}
	}
}

func TestMakeCutsLongTitlesAtAWord(t *testing.T) {
	got := Make(strings.Repeat("Hội nghị triển khai nhiệm vụ ", 10))
	if len(got) > MaxLen || strings.HasSuffix(got, "-") || strings.HasSuffix(got, "-n") {
		t.Fatalf("Make cut badly: %q (%d bytes)", got, len(got))
	}
	if !strings.HasPrefix(got, "hoi-nghi-trien-khai-nhiem-vu-hoi-nghi") {
		t.Fatalf("Make = %q", got)
	}
}

func TestWithID(t *testing.T) {
	if got := WithID("xay-dung", "01JABCDEF"); got != "xay-dung-01jabcdef" {
		t.Errorf("WithID = %q", got)
	}
	if got := WithID("", "01JABCDEF"); got != "01jabcdef" {
		t.Errorf("WithID without slug = %q", got)
	}
}

func FuzzMake(f *testing.F) {
	f.Add("Xây dựng tổ chức Đảng trong sạch, vững mạnh")
	f.Add("a\u0301\u0323--b")
	f.Fuzz(func(t *testing.T, title string) {
		s := Make(title)
		if len(s) > MaxLen || !utf8.ValidString(s) || strings.HasPrefix(s, "-") || strings.HasSuffix(s, "-") || strings.Contains(s, "--") {
			t.Fatalf("Make(%q) = %q", title, s)
		}
		for _, r := range s {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				t.Fatalf("Make(%q) = %q has %q", title, s, r)
			}
		}
	})
}
