package seed

import (
	"strconv"
	"strings"
)

// romanized is a name in its native script with a Latin rendering for
// e-mail addresses (pinyin without tones, Hepburn without macrons).
type romanized struct{ native, latin string }

// --- China -----------------------------------------------------------------

// cnDistrict is a county-level division with its GB/T 2260 code.
// Municipalities have an empty province.
type cnDistrict struct{ code, province, city, district string }

var cnDistricts = []cnDistrict{
	{"110101", "", "北京市", "东城区"},
	{"110102", "", "北京市", "西城区"},
	{"110105", "", "北京市", "朝阳区"},
	{"110108", "", "北京市", "海淀区"},
	{"120101", "", "天津市", "和平区"},
	{"310101", "", "上海市", "黄浦区"},
	{"310104", "", "上海市", "徐汇区"},
	{"310115", "", "上海市", "浦东新区"},
	{"500103", "", "重庆市", "渝中区"},
	{"440103", "广东省", "广州市", "荔湾区"},
	{"440104", "广东省", "广州市", "越秀区"},
	{"440106", "广东省", "广州市", "天河区"},
	{"440303", "广东省", "深圳市", "罗湖区"},
	{"440304", "广东省", "深圳市", "福田区"},
	{"440305", "广东省", "深圳市", "南山区"},
	{"330102", "浙江省", "杭州市", "上城区"},
	{"330106", "浙江省", "杭州市", "西湖区"},
	{"320102", "江苏省", "南京市", "玄武区"},
	{"320106", "江苏省", "南京市", "鼓楼区"},
	{"320505", "江苏省", "苏州市", "虎丘区"},
	{"510104", "四川省", "成都市", "锦江区"},
	{"510107", "四川省", "成都市", "武侯区"},
	{"420102", "湖北省", "武汉市", "江岸区"},
	{"420106", "湖北省", "武汉市", "武昌区"},
	{"610113", "陕西省", "西安市", "雁塔区"},
	{"370102", "山东省", "济南市", "历下区"},
	{"370202", "山东省", "青岛市", "市南区"},
	{"210102", "辽宁省", "沈阳市", "和平区"},
	{"230103", "黑龙江省", "哈尔滨市", "南岗区"},
	{"430104", "湖南省", "长沙市", "岳麓区"},
	{"350203", "福建省", "厦门市", "思明区"},
	{"530102", "云南省", "昆明市", "五华区"},
}

var cnSurnames = []romanized{
	{"王", "wang"}, {"李", "li"}, {"张", "zhang"}, {"刘", "liu"}, {"陈", "chen"},
	{"杨", "yang"}, {"黄", "huang"}, {"赵", "zhao"}, {"吴", "wu"}, {"周", "zhou"},
	{"徐", "xu"}, {"孙", "sun"}, {"马", "ma"}, {"朱", "zhu"}, {"胡", "hu"},
	{"郭", "guo"}, {"何", "he"}, {"高", "gao"}, {"林", "lin"}, {"罗", "luo"},
	{"郑", "zheng"}, {"梁", "liang"}, {"谢", "xie"}, {"宋", "song"}, {"欧阳", "ouyang"},
}

var cnMale = []romanized{
	{"伟", "wei"}, {"强", "qiang"}, {"磊", "lei"}, {"军", "jun"}, {"洋", "yang"},
	{"勇", "yong"}, {"杰", "jie"}, {"涛", "tao"}, {"明", "ming"}, {"超", "chao"},
	{"俊杰", "junjie"}, {"浩然", "haoran"}, {"子轩", "zixuan"}, {"宇航", "yuhang"},
	{"志强", "zhiqiang"}, {"建华", "jianhua"}, {"文博", "wenbo"}, {"国平", "guoping"},
}

var cnFemale = []romanized{
	{"芳", "fang"}, {"娜", "na"}, {"敏", "min"}, {"静", "jing"}, {"丽", "li"},
	{"艳", "yan"}, {"婷", "ting"}, {"秀英", "xiuying"}, {"欣怡", "xinyi"},
	{"梓涵", "zihan"}, {"雨桐", "yutong"}, {"思琪", "siqi"}, {"佳怡", "jiayi"},
	{"晓燕", "xiaoyan"}, {"玉兰", "yulan"}, {"桂英", "guiying"},
}

// Street names found in nearly every Chinese city.
var cnStreets = []string{
	"人民路", "解放路", "中山路", "建设路", "和平路", "新华路",
	"文化路", "胜利路", "长江路", "朝阳路", "青年路", "学府路",
}

// cnMobile are mobile prefixes of the three carriers.
var cnMobile = []string{
	"130########", "131########", "132########", "133########", "134########",
	"135########", "136########", "137########", "138########", "139########",
	"150########", "151########", "152########", "153########", "155########",
	"156########", "157########", "158########", "159########", "166########",
	"177########", "180########", "181########", "182########", "183########",
	"185########", "186########", "187########", "188########", "189########",
	"198########", "199########",
}

func makeCN(g *Generator, p person) identity {
	sur := pick(g, cnSurnames)
	given := pick(g, cnMale)
	if p.female {
		given = pick(g, cnFemale)
	}
	d := pick(g, cnDistricts)

	seq := 1 + 2*g.rng.IntN(499) // odd: male
	if p.female {
		seq = 2 + 2*g.rng.IntN(499)
	}
	body := d.code + p.dob.Format("20060102") + pad(seq, 3)

	addr := d.province + d.city + d.district + pick(g, cnStreets) + strconv.Itoa(g.between(1, 399)) + "号"
	if !g.chance(4) {
		addr += strconv.Itoa(g.between(1, 30)) + "栋" + strconv.Itoa(g.between(1, 6)) + "单元" +
			strconv.Itoa(g.between(1, 32)) + pad(g.between(1, 4), 2) + "室"
	}
	return identity{
		name:       sur.native + given.native,
		given:      given.latin,
		family:     sur.latin,
		nationalID: body + string(cnCheck(body)),
		address:    addr,
		phones:     cnMobile,
	}
}

// --- Japan -----------------------------------------------------------------

var jpSurnames = []romanized{
	{"佐藤", "sato"}, {"鈴木", "suzuki"}, {"高橋", "takahashi"}, {"田中", "tanaka"},
	{"伊藤", "ito"}, {"渡辺", "watanabe"}, {"山本", "yamamoto"}, {"中村", "nakamura"},
	{"小林", "kobayashi"}, {"加藤", "kato"}, {"吉田", "yoshida"}, {"山田", "yamada"},
	{"佐々木", "sasaki"}, {"松本", "matsumoto"}, {"井上", "inoue"}, {"木村", "kimura"},
}

var jpMale = []romanized{
	{"翔太", "shota"}, {"大輔", "daisuke"}, {"健太", "kenta"}, {"拓也", "takuya"},
	{"蓮", "ren"}, {"悠真", "yuma"}, {"陽翔", "haruto"}, {"浩", "hiroshi"},
	{"誠", "makoto"}, {"隆", "takashi"}, {"和也", "kazuya"}, {"一郎", "ichiro"},
}

var jpFemale = []romanized{
	{"さくら", "sakura"}, {"陽菜", "hina"}, {"美咲", "misaki"}, {"結衣", "yui"},
	{"葵", "aoi"}, {"花子", "hanako"}, {"愛", "ai"}, {"恵子", "keiko"},
	{"由美", "yumi"}, {"明美", "akemi"}, {"真由美", "mayumi"}, {"優子", "yuko"},
}

// jpTown is a real postal code with its prefecture, municipality and town.
type jpTown struct{ postcode, prefecture, city, town string }

var jpTowns = []jpTown{
	{"150-0001", "東京都", "渋谷区", "神宮前"},
	{"160-0023", "東京都", "新宿区", "西新宿"},
	{"106-0032", "東京都", "港区", "六本木"},
	{"530-0001", "大阪府", "大阪市北区", "梅田"},
	{"600-8216", "京都府", "京都市下京区", "東塩小路町"},
	{"220-0012", "神奈川県", "横浜市西区", "みなとみらい"},
	{"450-0002", "愛知県", "名古屋市中村区", "名駅"},
	{"812-0011", "福岡県", "福岡市博多区", "博多駅前"},
	{"060-0001", "北海道", "札幌市中央区", "北一条西"},
	{"980-0021", "宮城県", "仙台市青葉区", "中央"},
}

var jpMobile = []string{"90X#######", "80X#######", "70X#######"}

func makeJP(g *Generator, p person) identity {
	sur := pick(g, jpSurnames)
	given := pick(g, jpMale)
	if p.female {
		given = pick(g, jpFemale)
	}
	t := pick(g, jpTowns)
	addr := "〒" + t.postcode + " " + t.prefecture + t.city + t.town +
		strconv.Itoa(g.between(1, 5)) + "丁目" + strconv.Itoa(g.between(1, 30)) + "-" + strconv.Itoa(g.between(1, 20))
	if g.chance(2) {
		addr += "-" + strconv.Itoa(g.between(1, 12)) + pad(g.between(1, 10), 2)
	}
	body := strconv.Itoa(g.between(1, 9)) + g.digits(10)
	return identity{
		name:       sur.native + " " + given.native,
		given:      given.latin,
		family:     sur.latin,
		nationalID: body + string(myNumberCheck(body)),
		address:    addr,
		phones:     jpMobile,
	}
}

// --- India -----------------------------------------------------------------

var (
	inMale    = []string{"Aarav", "Arjun", "Rahul", "Vikram", "Rohan", "Aditya", "Sanjay", "Rajesh", "Amit", "Karthik", "Suresh", "Vivek"}
	inFemale  = []string{"Priya", "Ananya", "Diya", "Kavya", "Neha", "Pooja", "Lakshmi", "Sneha", "Divya", "Meera", "Aishwarya", "Sunita"}
	inSurname = []string{"Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Das", "Mehta", "Joshi", "Rao", "Banerjee", "Chopra", "Menon", "Pillai"}
	inStreets = []string{"MG Road", "Station Road", "4th Cross Road", "Main Road", "Gandhi Road", "Nehru Street", "Temple Road", "Church Street", "1st Main", "Ring Road"}
)

// inLocality is a locality with its real PIN code.
type inLocality struct{ locality, city, state, pin string }

var inLocalities = []inLocality{
	{"Andheri West", "Mumbai", "Maharashtra", "400058"},
	{"Bandra West", "Mumbai", "Maharashtra", "400050"},
	{"Colaba", "Mumbai", "Maharashtra", "400005"},
	{"Connaught Place", "New Delhi", "Delhi", "110001"},
	{"Lajpat Nagar", "New Delhi", "Delhi", "110024"},
	{"Koramangala", "Bengaluru", "Karnataka", "560034"},
	{"Indiranagar", "Bengaluru", "Karnataka", "560038"},
	{"T. Nagar", "Chennai", "Tamil Nadu", "600017"},
	{"Banjara Hills", "Hyderabad", "Telangana", "500034"},
	{"Salt Lake", "Kolkata", "West Bengal", "700091"},
	{"Kothrud", "Pune", "Maharashtra", "411038"},
	{"Navrangpura", "Ahmedabad", "Gujarat", "380009"},
}

var inMobile = []string{
	"98########", "99########", "97########", "96########", "94########",
	"93########", "90########", "88########", "87########", "81########",
	"70########", "62########",
}

func makeIN(g *Generator, p person) identity {
	given := pick(g, inMale)
	if p.female {
		given = pick(g, inFemale)
	}
	sur := pick(g, inSurname)
	l := pick(g, inLocalities)
	var addr string
	if g.chance(2) {
		addr = "Flat " + strconv.Itoa(g.between(1, 12)) + pad(g.between(1, 8), 2) + ", "
	}
	addr += strconv.Itoa(g.between(1, 250)) + ", " + pick(g, inStreets) + ", " + l.locality + ", " +
		l.city + ", " + l.state + " " + l.pin
	return identity{
		name:       given + " " + sur,
		given:      given,
		family:     sur,
		nationalID: inPAN(g, sur),
		address:    addr,
		phones:     inMobile,
	}
}

// inPAN returns a Permanent Account Number: three letters, 'P' for an
// individual, the surname's initial, four digits and a letter.
func inPAN(g *Generator, surname string) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	var b strings.Builder
	for range 3 {
		b.WriteByte(letters[g.rng.IntN(26)])
	}
	b.WriteByte('P')
	b.WriteByte(surname[0])
	b.WriteString(pad(g.between(1, 9999), 4))
	b.WriteByte(letters[g.rng.IntN(26)])
	return b.String()
}
