// Command gen writes the corpus inputs that are not UTF-8 text (legacy
// charsets, UTF-16, NFD), from UTF-8 sources here, so that they can be
// read and rebuilt: go run ./pkg/cleaner/testdata/gen
package main

import (
	"log"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/unicode/norm"
)

const viLegacy = `Thứ Năm, 24/11/2022 09:10

Chương Mỹ:

Đón nhận Bằng công nhận xã đạt chuẩn nông thôn mới nâng cao

Ngày 23/11, xã Thủy Xuân Tiên, huyện Chương Mỹ tổ chức lễ đón nhận Bằng công nhận xã đạt chuẩn nông thôn mới nâng cao năm 2022.

Thu nhập bình quân đầu người của xã đạt 68 triệu đồng mỗi năm, tỷ lệ hộ nghèo giảm còn 0,8%.

Người dân đã hiến hơn 12.000 m² đất để mở rộng đường giao thông nông thôn, xây dựng nhà văn hóa thôn.

Nguồn: Đài PT-TH Chương Mỹ
`

const enLegacy = "Tuesday 7 February 2023 11:05 GMT\n\nCafé owners fear “the worst winter yet”\n\nOwners of small cafés say energy bills have tripled since last year – and some fear they will not reopen in spring.\n\n“We can’t keep going like this,” said one owner in Leeds, who asked not to be named.\n\nThe government’s support scheme ends in April.\n\nPhoto: Alamy\n"

const viUTF16 = "08:00 | 01/10/2021\n\nMê Linh:\n\nKhai mạc hội chợ nông sản an toàn\n\nHội chợ quy tụ 120 gian hàng nông sản của 18 xã, thị trấn trong huyện, mở cửa đến hết ngày 5/10.\n\nBan tổ chức cho biết tất cả sản phẩm đều có truy xuất nguồn gốc bằng mã QR.\n"

const enUTF16 = "Fire crews tackle blaze at recycling plant\n\nMore than 60 firefighters were called to a large fire at a recycling plant in the east of the city on Monday night.\n\nResidents were told to keep windows and doors closed because of heavy smoke.\n\nThere were no reports of injuries.\n"

const viNFD = "Sóc Sơn:\r\n\r\nTiêm vắc\u00a0xin cho\u200b đàn gia súc   vụ thu\r\n\r\nHuyện Sóc Sơn triển khai tiêm phòng vắc xin lở mồm long móng cho hơn 40.000 con gia súc trong tháng 10.\r\n\r\nCác xã có nguy cơ cao như Minh Phú, Minh Trí được ưu tiên tiêm trước.\r\n"

const viLegacyHTML = `<!DOCTYPE html><html><head><meta charset="windows-1258"><title>Ba Vì phát triển du lịch cộng đồng - Cổng thông tin huyện Ba Vì</title></head>
<body><div class="menu">Trang chủ | Tin tức | Liên hệ</div>
<div class="content"><h1>Ba Vì phát triển du lịch cộng đồng</h1>
<p class="date">Thứ Bảy, 15/10/2022 15:30</p>
<p>Huyện Ba Vì đang phát triển mô hình du lịch cộng đồng tại các bản người Dao ở xã Ba Vì, thu hút hơn 20.000 lượt khách trong 9 tháng.</p>
<p>Du khách được trải nghiệm tắm lá thuốc, làm bánh và tham quan vườn dược liệu của đồng bào.</p>
<p>Nguồn: Phòng Văn hóa - Thông tin huyện Ba Vì</p></div>
<div class="footer">Bản quyền thuộc UBND huyện Ba Vì</div></body></html>
`

func main() {
	dir := filepath.Join("pkg", "cleaner", "testdata", "corpus")
	write(dir, "vi-legacy.cs-windows-1258.txt", encode1258(viLegacy))
	write(dir, "en-legacy.cs-windows-1252.txt", encode(charmap.Windows1252, enLegacy))
	write(dir, "vi-utf16-bom.txt", encode(unicode.UTF16(unicode.LittleEndian, unicode.UseBOM), viUTF16))
	write(dir, "en-utf16-no-bom.txt", encode(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), enUTF16))
	write(dir, "vi-nfd-crlf-spaces.txt", []byte(norm.NFD.String(viNFD)))
	write(dir, "vi-page-meta-windows-1258.html", encode1258(viLegacyHTML))
}

func write(dir, name string, b []byte) {
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		log.Fatal(err)
	}
}

func encode(e encoding.Encoding, s string) []byte {
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		log.Fatal(err)
	}
	return b
}

// encode1258 writes Vietnamese as Windows-1258 does: precomposed letters
// where the charset has them, tone marks as separate combining characters.
func encode1258(s string) []byte {
	var b strings.Builder
	for _, r := range norm.NFC.String(s) {
		if _, err := charmap.Windows1258.NewEncoder().String(string(r)); err == nil {
			b.WriteRune(r)
			continue
		}
		var base, tones []rune
		for _, d := range norm.NFD.String(string(r)) {
			if strings.ContainsRune("\u0300\u0301\u0303\u0309\u0323", d) {
				tones = append(tones, d)
			} else {
				base = append(base, d)
			}
		}
		b.WriteString(norm.NFC.String(string(base)) + string(tones))
	}
	return encode(charmap.Windows1258, b.String())
}
