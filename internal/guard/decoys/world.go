package decoys

import (
	"strconv"
	"strings"
	"time"
)

// countries is a read-only table of every supported jurisdiction; the
// European ones are in europe.go.
var countries = map[string]country{
	"CN": {makeCN, "13 15 17 18 19", "qq.com 163.com 126.com sina.com foxmail.com"},
	"JP": {makeJP, "70 80 90", "yahoo.co.jp docomo.ne.jp ezweb.ne.jp icloud.com softbank.ne.jp"},
	"IN": {makeIN, "6 7 8 9", "yahoo.co.in rediffmail.com gmail.com"},
	"US": {makeUS, "", "yahoo.com icloud.com aol.com comcast.net"},
	"CA": {makeCA, "", "yahoo.ca icloud.com rogers.com videotron.ca"},
	"MX": {makeMX, "", "yahoo.com.mx live.com.mx prodigy.net.mx"},
	"BR": {makeBR, "", "uol.com.br bol.com.br yahoo.com.br terra.com.br"},
	"RU": {makeRU, "90 91 92 93 95 96 98", "mail.ru yandex.ru bk.ru list.ru rambler.ru inbox.ru"},
	"DE": {makeDE, "151 152 157 159 160 162 163 170 171 172 173 174 175 176 177 178 179", "gmx.de web.de t-online.de gmx.net freenet.de"},
	"FR": {makeFR, "6 7", "orange.fr free.fr laposte.net sfr.fr wanadoo.fr"},
	"GB": {makeGB, "74 75 77 78 79", "hotmail.co.uk btinternet.com yahoo.co.uk sky.com"},
	"IT": {makeIT, "32 33 34 35 36 37 38 39", "libero.it virgilio.it alice.it tiscali.it hotmail.it"},
	"ES": {makeES, "6 7", "hotmail.es yahoo.es telefonica.net outlook.es"},
	"NL": {makeNL, "6", "ziggo.nl kpnmail.nl planet.nl home.nl"},
	"SE": {makeSE, "70 72 73 76 79", "telia.com live.se spray.se bredband.net"},
	"PL": {makePL, "5 6 7 8", "wp.pl onet.pl o2.pl interia.pl op.pl"},
}

// names are the given names and surnames of a Latin-script country.
type names struct{ male, female, family []string }

func (n names) draw(r *rnd, p person) (given, family string) {
	if p.female {
		return r.pick(n.female), r.pick(n.family)
	}
	return r.pick(n.male), r.pick(n.family)
}

// --- China: name and address in Chinese; the identity number's area code
// is that of the district of the address.

var (
	cnSurnames = romanized("王:wang,李:li,张:zhang,刘:liu,陈:chen,杨:yang,赵:zhao,黄:huang,周:zhou,吴:wu,徐:xu,孙:sun,胡:hu,朱:zhu,高:gao,林:lin")
	cnMale     = romanized("伟:wei,磊:lei,军:jun,斌:bin,鹏:peng,浩:hao,志明:zhiming,建国:jianguo,宇:yu,子豪:zihao,海涛:haitao,俊:jun")
	cnFemale   = romanized("芳:fang,静:jing,丽:li,婷:ting,雪:xue,慧:hui,秀兰:xiulan,欣然:xinran,雨涵:yuhan,梦琪:mengqi,晓红:xiaohong,颖:ying")
	cnStreets  = list("人民路,中山路,建设路,和平路,东风路,解放路,友谊路,光明路,新华路,青年路")
	// cnDistricts pairs GB/T 2260 codes with their districts.
	cnDistricts = romanized("110105:北京市朝阳区,110108:北京市海淀区,310115:上海市浦东新区,310104:上海市徐汇区," +
		"440305:广东省深圳市南山区,440106:广东省广州市天河区,330106:浙江省杭州市西湖区,510107:四川省成都市武侯区," +
		"420106:湖北省武汉市武昌区,320102:江苏省南京市玄武区,370202:山东省青岛市市南区,610113:陕西省西安市雁塔区")
)

func makeCN(r *rnd, p person, _ time.Time) identity {
	sur, given := cnSurnames[r.IntN(len(cnSurnames))], cnMale[r.IntN(len(cnMale))]
	if p.female {
		given = cnFemale[r.IntN(len(cnFemale))]
	}
	d := cnDistricts[r.IntN(len(cnDistricts))]
	addr := d[1] + r.pick(cnStreets) + strconv.Itoa(r.between(1, 500)) + "号"
	if !r.chance(4) {
		addr += strconv.Itoa(r.between(1, 28)) + "栋" + strconv.Itoa(r.between(1, 5)) + "单元" + strconv.Itoa(r.between(1, 30)) + pad(r.between(1, 4), 2) + "室"
	}
	return identity{name: sur[0] + given[0], given: given[1], family: sur[1], nationalID: cnID(r, d[0], p), address: addr}
}

// --- Japan

var (
	jpSurnames = romanized("佐藤:sato,鈴木:suzuki,高橋:takahashi,田中:tanaka,渡辺:watanabe,伊藤:ito,山本:yamamoto,中村:nakamura,小林:kobayashi,加藤:kato,吉田:yoshida,山口:yamaguchi")
	jpMale     = romanized("大輝:daiki,翔:sho,健一:kenichi,直樹:naoki,拓海:takumi,亮:ryo,悠斗:yuto,隆之:takayuki,誠:makoto,大輔:daisuke")
	jpFemale   = romanized("美咲:misaki,愛子:aiko,結菜:yuna,彩:aya,真理子:mariko,奈々:nana,千尋:chihiro,優花:yuka,陽子:yoko,恵:megumi")
	// jpTowns pairs postal codes with their towns.
	jpTowns = romanized("100-0005:東京都千代田区丸の内,150-0002:東京都渋谷区渋谷,160-0022:東京都新宿区新宿,530-0011:大阪府大阪市北区大深町," +
		"460-0008:愛知県名古屋市中区栄,810-0001:福岡県福岡市中央区天神,231-0023:神奈川県横浜市中区山下町,980-0811:宮城県仙台市青葉区一番町")
)

func makeJP(r *rnd, p person, _ time.Time) identity {
	sur, given := jpSurnames[r.IntN(len(jpSurnames))], jpMale[r.IntN(len(jpMale))]
	if p.female {
		given = jpFemale[r.IntN(len(jpFemale))]
	}
	t := jpTowns[r.IntN(len(jpTowns))]
	addr := "〒" + t[0] + " " + t[1] + strconv.Itoa(r.between(1, 4)) + "丁目" + strconv.Itoa(r.between(1, 25)) + "-" + strconv.Itoa(r.between(1, 15))
	if r.chance(2) {
		addr += "-" + strconv.Itoa(r.between(1, 15)) + pad(r.between(1, 9), 2)
	}
	return identity{name: sur[0] + " " + given[0], given: given[1], family: sur[1], nationalID: jpMyNumber(r), address: addr}
}

// --- India

var (
	inNames = names{
		male:   list("Rahul,Amit,Rajesh,Sunil,Anil,Vijay,Arjun,Rohit,Sanjay,Deepak,Karan,Manoj"),
		female: list("Priya,Pooja,Anjali,Neha,Sunita,Kavita,Divya,Lakshmi,Deepika,Swati,Anita,Shreya"),
		family: list("Sharma,Verma,Patel,Singh,Kumar,Gupta,Reddy,Nair,Iyer,Das,Joshi,Mehta,Rao,Chatterjee,Mishra,Yadav"),
	}
	inStreets = list("MG Road,Station Road,Main Road,1st Cross Road,Link Road,Gandhi Nagar,Temple Street,Ring Road")
	// inLocalities are "locality|city|state|PIN".
	inLocalities = list("Andheri East|Mumbai|Maharashtra|400069,Powai|Mumbai|Maharashtra|400076,Saket|New Delhi|Delhi|110017," +
		"Dwarka|New Delhi|Delhi|110075,Whitefield|Bengaluru|Karnataka|560066,Jayanagar|Bengaluru|Karnataka|560041," +
		"Adyar|Chennai|Tamil Nadu|600020,Gachibowli|Hyderabad|Telangana|500032,Aundh|Pune|Maharashtra|411007,Ballygunge|Kolkata|West Bengal|700019")
)

func makeIN(r *rnd, p person, _ time.Time) identity {
	given, family := inNames.draw(r, p)
	l := strings.Split(r.pick(inLocalities), "|")
	addr := strconv.Itoa(r.between(1, 300)) + ", " + r.pick(inStreets) + ", " + l[0] + ", " + l[1] + ", " + l[2] + " " + l[3]
	if r.chance(2) {
		addr = "Flat " + strconv.Itoa(r.between(1, 14)) + pad(r.between(1, 8), 2) + ", " + addr
	}
	return identity{name: given + " " + family, given: given, family: family, nationalID: inPAN(r, family), address: addr}
}

// --- United States: numbers in the area codes of the city.

var (
	usNames = names{
		male:   list("James,John,Robert,Michael,William,David,Richard,Joseph,Christopher,Daniel,Matthew,Jose"),
		female: list("Mary,Patricia,Jennifer,Linda,Elizabeth,Barbara,Susan,Jessica,Sarah,Karen,Ashley,Maria"),
		family: list("Smith,Johnson,Williams,Brown,Jones,Garcia,Miller,Davis,Rodriguez,Martinez,Anderson,Taylor,Thomas,Moore,Jackson,Lee"),
	}
	usStreets = list("Main St,Oak Ave,Maple Dr,Park Ave,Washington St,Cedar Ln,Elm St,Lakeview Dr,Pine St,Highland Ave,Church St,Jefferson Blvd")
	// usCities are "city|state|ZIP prefix|area codes".
	usCities = list("New York|NY|100|212 646 917,Los Angeles|CA|900|213 310 323 424,Chicago|IL|606|312 773 872,Houston|TX|770|713 832 281," +
		"Phoenix|AZ|850|602 480 623,Philadelphia|PA|191|215 267,Seattle|WA|981|206 425,Denver|CO|802|303 720,Atlanta|GA|303|404 678 470,Boston|MA|021|617 857")
)

func makeUS(r *rnd, p person, _ time.Time) identity {
	given, family := usNames.draw(r, p)
	c := strings.Split(r.pick(usCities), "|")
	addr := strconv.Itoa(r.between(1, 9999)) + " " + r.pick(usStreets)
	if r.chance(4) {
		addr += " Apt " + strconv.Itoa(r.between(1, 40)) + r.letters("ABCDEF", 1)
	}
	addr += ", " + c[0] + ", " + c[1] + " " + c[2] + r.digits(2)
	return identity{name: given + " " + family, given: given, family: family, nationalID: usSSN(r), address: addr, phones: c[3]}
}

// --- Canada: French names and streets in Quebec; the SIN's first digit is
// the province's.

var (
	caNames = names{
		male:   list("Liam,Noah,William,Benjamin,Ethan,Lucas,Jacob,Logan,Ryan,Connor"),
		female: list("Olivia,Emma,Charlotte,Amelia,Ava,Sophia,Chloe,Emily,Hannah,Abigail"),
		family: list("Smith,Brown,Tremblay,Martin,Roy,Wilson,Lee,Johnson,MacDonald,Taylor,Campbell,Anderson,Singh,Wong"),
	}
	caFrench = names{
		male:   list("Jean-Philippe,Mathieu,Olivier,Simon,Félix,Étienne,Gabriel,Samuel"),
		female: list("Marie-Pier,Geneviève,Isabelle,Catherine,Julie,Émilie,Noémie,Léa"),
		family: list("Tremblay,Gagnon,Roy,Côté,Bouchard,Gauthier,Morin,Lavoie,Fortin,Pelletier"),
	}
	caStreets       = list("Main Street,King Street,Queen Street,Maple Avenue,Church Street,Victoria Street,Park Avenue,Wellington Street")
	caFrenchStreets = list("rue Saint-Denis,boulevard Saint-Laurent,rue Sherbrooke,avenue du Parc,rue Notre-Dame,rue Ontario")
	// caCities are "city|province|FSAs|area codes|SIN digits".
	caCities = list("Toronto|ON|M5V M4C M6K M4Y|416 647 437|4 5,Vancouver|BC|V6B V5L V6K|604 778 236|7,Montréal|QC|H2X H3A H1V H2T|514 438|2 3," +
		"Calgary|AB|T2P T3H|403 587|6,Ottawa|ON|K1P K2G|613 343|4 5,Halifax|NS|B3H B3L|902|1,Winnipeg|MB|R3C R2M|204 431|6")
)

func makeCA(r *rnd, p person, _ time.Time) identity {
	c := strings.Split(r.pick(caCities), "|")
	ns, streets := caNames, caStreets
	if c[1] == "QC" {
		ns, streets = caFrench, caFrenchStreets
	}
	given, family := ns.draw(r, p)
	const letters = "ABCEGHJKLMNPRSTVWXYZ"
	post := r.pick(strings.Fields(c[2])) + " " + r.digits(1) + r.letters(letters, 1) + r.digits(1)
	addr := strconv.Itoa(r.between(1, 4999)) + " " + r.pick(streets)
	if r.chance(3) {
		addr = strconv.Itoa(r.between(101, 2405)) + "-" + addr
	}
	addr += ", " + c[0] + " " + c[1] + " " + post
	return identity{name: given + " " + family, given: given, family: family,
		nationalID: caSIN(r, r.pick(strings.Fields(c[4]))), address: addr, phones: c[3]}
}

// --- Mexico: two surnames; the CURP names the state.

var (
	mxNames = names{
		male:   list("José,Juan,Luis,Carlos,Jorge,Miguel,Alejandro,Francisco,Fernando,Ricardo,Eduardo,Raúl"),
		female: list("María,Guadalupe,Rosa,Ana,Patricia,Verónica,Alejandra,Daniela,Fernanda,Gabriela,Adriana,Leticia"),
		family: list("Hernández,García,Martínez,López,González,Rodríguez,Pérez,Sánchez,Ramírez,Torres,Flores,Rivera,Gómez,Díaz,Cruz,Morales"),
	}
	mxStreets = list("Av. Juárez,Calle Morelos,Av. Hidalgo,Calle Allende,Av. Reforma,Calle 5 de Mayo,Av. Revolución,Calle Zaragoza")
	// mxCities are "city|state|CURP state|colonia:CP;...|lada".
	mxCities = list("Ciudad de México|CDMX|DF|Roma Norte:06700;Del Valle:03100;Polanco:11560;Narvarte:03020|55 56," +
		"Guadalajara|Jal.|JC|Providencia:44630;Chapalita:45040|33,Monterrey|N.L.|NL|Centro:64000;Mitras Centro:64460|81," +
		"Puebla|Pue.|PL|Centro:72000;La Paz:72160|222,Querétaro|Qro.|QT|Centro:76000;Jurica:76100|442")
)

func makeMX(r *rnd, p person, _ time.Time) identity {
	given, paternal := mxNames.draw(r, p)
	maternal := r.pick(mxNames.family)
	c := strings.Split(r.pick(mxCities), "|")
	col, cp, _ := strings.Cut(r.pick(strings.Split(c[3], ";")), ":")
	addr := r.pick(mxStreets) + " " + strconv.Itoa(r.between(1, 2500))
	if r.chance(3) {
		addr += " Int. " + strconv.Itoa(r.between(1, 40))
	}
	addr += ", Col. " + col + ", " + cp + " " + c[0] + ", " + c[1]
	return identity{name: given + " " + paternal + " " + maternal, given: given, family: paternal,
		nationalID: mxCURP(r, paternal, maternal, given, p, c[2]), address: addr, phones: c[4]}
}

// --- Brazil: the CPF's ninth digit is the fiscal region of the state;
// mobiles are the city's DDD and 9.

var (
	brNames = names{
		male:   list("João,José,Antônio,Francisco,Carlos,Paulo,Pedro,Lucas,Luiz,Marcos,Rafael,Gabriel"),
		female: list("Maria,Ana,Francisca,Antônia,Adriana,Juliana,Márcia,Fernanda,Patrícia,Aline,Camila,Beatriz"),
		family: list("Silva,Santos,Oliveira,Souza,Rodrigues,Ferreira,Alves,Pereira,Lima,Gomes,Costa,Ribeiro,Martins,Carvalho,Almeida"),
	}
	brStreets = list("Rua das Flores,Avenida Brasil,Rua São João,Rua XV de Novembro,Rua Sete de Setembro,Avenida Getúlio Vargas,Rua Tiradentes,Rua Santos Dumont")
	// brCities are "city|UF|fiscal region|DDD|first CEP|last CEP".
	brCities = list("São Paulo|SP|8|11|01000|05999,Rio de Janeiro|RJ|7|21|20000|23799,Belo Horizonte|MG|6|31|30000|31999," +
		"Salvador|BA|5|71|40000|42599,Curitiba|PR|9|41|80000|82999,Recife|PE|4|81|50000|52999,Porto Alegre|RS|0|51|90000|91999")
)

func makeBR(r *rnd, p person, _ time.Time) identity {
	given, family := brNames.draw(r, p)
	name := given + " " + family
	if r.chance(2) {
		name = given + " " + r.pick(brNames.family) + " " + family
	}
	c := strings.Split(r.pick(brCities), "|")
	lo, _ := strconv.Atoi(c[4])
	hi, _ := strconv.Atoi(c[5])
	addr := r.pick(brStreets) + ", " + strconv.Itoa(r.between(1, 3500))
	if r.chance(3) {
		addr += ", apto " + strconv.Itoa(r.between(1, 25)) + pad(r.between(1, 8), 2)
	}
	addr += ", " + c[0] + " - " + c[1] + ", " + pad(r.between(lo, hi), 5) + "-" + r.digits(3)
	return identity{name: name, given: given, family: family, nationalID: brCPF(r, c[2]), address: addr, phones: c[3] + "9"}
}
