package cleaner

import (
	"testing"
	"time"
)

func TestFindDate(t *testing.T) {
	hcm, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	f := dateFinder{loc: hcm}
	tests := []struct {
		in       string
		want     string
		onlyDate bool
	}{
		{"13:03 | 23/01/2018", "2018-01-23T13:03:00+07:00", true},
		{"Thứ Sáu, 12/04/2019 08:45 (GMT+7)", "2019-04-12T08:45:00+07:00", true},
		{"Cập nhật: 10:20 ngày 02/03/2022", "2022-03-02T10:20:00+07:00", true},
		{"Published 14 March 2023, 09:12 GMT", "2023-03-14T09:12:00Z", true},
		{"Chủ nhật, 5/6/2022, 7h30", "2022-06-05T07:30:00+07:00", true},
		{"Thứ 2, ngày 3 tháng 1 năm 2022 - 15:00", "2022-01-03T15:00:00+07:00", true},
		{"March 5, 2024 3:15 pm EST", "2024-03-05T15:15:00-05:00", true},
		{"Updated: 2021-11-30 18:00 +01:00", "2021-11-30T18:00:00+01:00", true},
		{"2023-07-01T06:30:00+02:00", "2023-07-01T06:30:00+02:00", true},
		// A dotted clock is not read: "7.300" is a number in Vietnamese.
		{"Posted on Tue 7 Feb 2023 at 11.05", "2023-02-07T00:00:00+07:00", false},
		{"Năm 2017 đã tổ chức 12/12/2017 một hội nghị lớn ở huyện", "2017-12-12T00:00:00+07:00", false},
		{"Xây dựng tổ chức Đảng trong sạch, vững mạnh", "", false},
		{"31/02/2020", "", false},
		{"kế hoạch 5 năm 2016 – 2010", "", false},
	}
	for _, tt := range tests {
		got, only := f.find(tt.in)
		if got != tt.want || only != tt.onlyDate {
			t.Errorf("find(%q) = %q, %v; want %q, %v", tt.in, got, only, tt.want, tt.onlyDate)
		}
	}
	us := dateFinder{loc: time.UTC, monthFirst: true}
	if got, _ := us.find("03/04/2024"); got != "2024-03-04T00:00:00Z" {
		t.Errorf("month-first house style: %s", got)
	}
	if got, _ := f.find("03/04/2024"); got != "2024-04-03T00:00:00+07:00" {
		t.Errorf("day-first default: %s", got)
	}
}
