package seed

import (
	"strconv"
	"strings"
)

// nameSet holds given names by sex and family names.
type nameSet struct{ male, female, family []string }

func (g *Generator) givenName(ns nameSet, female bool) string {
	if female {
		return pick(g, ns.female)
	}
	return pick(g, ns.male)
}

// place is a city with an inclusive numeric postcode range. code is
// jurisdiction-specific (see each table).
type place struct {
	city, region, code string
	postLo, postHi     int
}

// --- Russia ----------------------------------------------------------------

// ruSurnames pairs masculine and feminine forms.
var ruSurnames = [][2]string{
	{"Иванов", "Иванова"}, {"Смирнов", "Смирнова"}, {"Кузнецов", "Кузнецова"},
	{"Попов", "Попова"}, {"Васильев", "Васильева"}, {"Петров", "Петрова"},
	{"Соколов", "Соколова"}, {"Михайлов", "Михайлова"}, {"Новиков", "Новикова"},
	{"Фёдоров", "Фёдорова"}, {"Морозов", "Морозова"}, {"Волков", "Волкова"},
	{"Лебедев", "Лебедева"}, {"Козлов", "Козлова"}, {"Орлов", "Орлова"},
}

var (
	ruMale   = []string{"Александр", "Дмитрий", "Сергей", "Андрей", "Алексей", "Максим", "Иван", "Михаил", "Николай", "Евгений", "Артём", "Юрий"}
	ruFemale = []string{"Анна", "Елена", "Ольга", "Наталья", "Мария", "Татьяна", "Екатерина", "Ирина", "Светлана", "Юлия", "Дарья", "Людмила"}
	// ruPatronymics pairs the son's and daughter's forms.
	ruPatronymics = [][2]string{
		{"Александрович", "Александровна"}, {"Дмитриевич", "Дмитриевна"},
		{"Сергеевич", "Сергеевна"}, {"Андреевич", "Андреевна"},
		{"Алексеевич", "Алексеевна"}, {"Иванович", "Ивановна"},
		{"Михайлович", "Михайловна"}, {"Николаевич", "Николаевна"},
		{"Владимирович", "Владимировна"}, {"Петрович", "Петровна"},
		{"Юрьевич", "Юрьевна"}, {"Викторович", "Викторовна"},
	}
	ruStreets = []string{"ул. Ленина", "ул. Советская", "ул. Мира", "пр-т Победы", "ул. Гагарина", "ул. Пушкина", "ул. Садовая", "ул. Молодёжная", "ул. Лесная", "ул. Школьная"}
)

// ruCities: code is the two-digit OKATO region code that starts the
// passport series; postcodes are six digits.
var ruCities = []place{
	{"Москва", "", "45", 101000, 129348},
	{"Санкт-Петербург", "", "40", 190000, 199406},
	{"Новосибирск", "Новосибирская обл.", "50", 630000, 630133},
	{"Екатеринбург", "Свердловская обл.", "65", 620000, 620149},
	{"Казань", "Респ. Татарстан", "92", 420000, 420141},
	{"Нижний Новгород", "Нижегородская обл.", "22", 603000, 603163},
	{"Краснодар", "Краснодарский край", "03", 350000, 350090},
	{"Самара", "Самарская обл.", "36", 443000, 443125},
}

var ruMobile = []string{"91########", "92########", "98########", "903#######", "95########", "96########"}

func makeRU(g *Generator, p person) identity {
	sex := 0
	if p.female {
		sex = 1
	}
	given := pick(g, ruMale)
	if p.female {
		given = pick(g, ruFemale)
	}
	family := pick(g, ruSurnames)[sex]
	patronymic := pick(g, ruPatronymics)[sex]
	c := pick(g, ruCities)

	// The current passport is issued at 14, replaced at 20 and 45; Soviet
	// passports were exchanged from 1997 to 2004.
	age := g.ref.Year() - p.dob.Year()
	issue := p.dob.Year() + 14
	switch {
	case age > 45:
		issue = p.dob.Year() + 45
	case age > 20:
		issue = p.dob.Year() + 20
	}
	if issue < 1997 {
		issue = g.between(1997, 2004)
	}
	series := c.code + pad(issue%100, 2)

	addr := strconv.Itoa(g.between(c.postLo, c.postHi)) + ", "
	if c.region != "" {
		addr += c.region + ", "
	}
	addr += "г. " + c.city + ", " + pick(g, ruStreets) + ", д. " + strconv.Itoa(g.between(1, 120))
	if !g.chance(5) {
		addr += ", кв. " + strconv.Itoa(g.between(1, 280))
	}
	return identity{
		name:       given + " " + patronymic + " " + family,
		given:      given,
		family:     family,
		nationalID: series + " " + strconv.Itoa(g.between(100000, 999999)),
		address:    addr,
		phones:     ruMobile,
	}
}

// --- Germany ---------------------------------------------------------------

var deNames = nameSet{
	male:   []string{"Jürgen", "Klaus", "Stefan", "Lukas", "Jonas", "Maximilian", "Felix", "Thomas", "Michael", "Uwe", "Jörg", "Björn", "Leon", "Matthias"},
	female: []string{"Ursula", "Sabine", "Anna", "Lena", "Sophie", "Hannah", "Käthe", "Jana", "Birgit", "Monika", "Marie", "Jülide", "Gisela", "Petra"},
	family: []string{"Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann", "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Schröder", "Neumann", "Zimmermann", "Krüger", "Weiß", "Groß", "Yılmaz"},
}

var deStreets = []string{"Hauptstraße", "Schulstraße", "Gartenstraße", "Bahnhofstraße", "Dorfstraße", "Bergstraße", "Lindenstraße", "Kirchstraße", "Goethestraße", "Schillerstraße", "Am Markt", "Mühlenweg"}

var deCities = []place{
	{"Berlin", "", "", 10115, 14199},
	{"Hamburg", "", "", 20095, 22769},
	{"München", "", "", 80331, 81929},
	{"Köln", "", "", 50667, 51149},
	{"Frankfurt am Main", "", "", 60306, 60599},
	{"Stuttgart", "", "", 70173, 70629},
	{"Düsseldorf", "", "", 40210, 40629},
	{"Leipzig", "", "", 4103, 4357},
	{"Dresden", "", "", 1067, 1328},
	{"Nürnberg", "", "", 90402, 90491},
}

var deMobile = []string{
	"151########", "152########", "157########", "160#######", "162#######",
	"170#######", "171#######", "172#######", "173#######", "174#######",
	"175#######", "176########", "177#######", "178#######", "179#######",
}

func makeDE(g *Generator, p person) identity {
	given, family := g.givenName(deNames, p.female), pick(g, deNames.family)
	c := pick(g, deCities)
	addr := pick(g, deStreets) + " " + strconv.Itoa(g.between(1, 180))
	if g.chance(8) {
		addr += string(rune('a' + g.rng.IntN(3)))
	}
	addr += ", " + pad(g.between(c.postLo, c.postHi), 5) + " " + c.city
	return identity{
		name:       given + " " + family,
		given:      given,
		family:     family,
		nationalID: deTaxID(g),
		address:    addr,
		phones:     deMobile,
	}
}

// deTaxID returns an 11-digit Steuerliche Identifikationsnummer: the first ten
// digits (not starting with 0) contain exactly one digit twice, so one digit
// is missing, and the last is the MOD 11,10 check digit.
func deTaxID(g *Generator) string {
	for {
		perm := g.rng.Perm(10)
		i, j := g.rng.IntN(10), g.rng.IntN(10)
		if i == j {
			continue
		}
		perm[j] = perm[i]
		if perm[0] == 0 {
			continue
		}
		b := make([]byte, 10)
		for k, d := range perm {
			b[k] = byte('0' + d)
		}
		return string(b) + string(deTaxCheck(string(b)))
	}
}

// --- France ----------------------------------------------------------------

var frNames = nameSet{
	male:   []string{"Jean", "Pierre", "Michel", "Philippe", "Nicolas", "Julien", "Mathéo", "Hugo", "Léo", "Gaël", "Jérôme", "François", "Jean-Baptiste", "Benoît"},
	female: []string{"Marie", "Nathalie", "Isabelle", "Sophie", "Camille", "Léa", "Chloé", "Élodie", "Inès", "Anaïs", "Hélène", "Françoise", "Océane", "Anne-Sophie"},
	family: []string{"Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Lefèvre", "Girard", "Mercier", "Bonnet", "Lefèbvre", "Gauthier", "Muller", "Faure", "Rousseau", "Chevalier"},
}

var frStreets = []string{"rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Gambetta", "place de la Mairie", "rue du Général de Gaulle", "rue Pasteur", "allée des Tilleuls", "impasse des Lilas", "chemin des Vignes", "rue de l'Église"}

// frCity: code is the département and INSEE commune code used in the NIR
// (Paris by arrondissement); posts are the city's postcodes.
type frCity struct {
	name     string
	communes []string
	posts    []string
}

var frCities = []frCity{
	{"Paris", []string{"75101", "75105", "75111", "75115", "75117", "75120"}, []string{"75001", "75005", "75011", "75015", "75017", "75020"}},
	{"Lyon", []string{"69123"}, []string{"69001", "69002", "69003", "69006", "69007", "69008"}},
	{"Marseille", []string{"13055"}, []string{"13001", "13004", "13006", "13008", "13012", "13013"}},
	{"Toulouse", []string{"31555"}, []string{"31000", "31100", "31200", "31300", "31400", "31500"}},
	{"Nice", []string{"06088"}, []string{"06000", "06100", "06200", "06300"}},
	{"Nantes", []string{"44109"}, []string{"44000", "44100", "44200", "44300"}},
	{"Strasbourg", []string{"67482"}, []string{"67000", "67100", "67200"}},
	{"Montpellier", []string{"34172"}, []string{"34000", "34070", "34080", "34090"}},
	{"Bordeaux", []string{"33063"}, []string{"33000", "33100", "33200", "33300", "33800"}},
	{"Lille", []string{"59350"}, []string{"59000", "59160", "59260", "59800"}},
}

// frMobile skips 063 and 069, which are only partly allocated.
var frMobile = []string{"60#######", "61#######", "62#######", "64#######", "65#######", "66#######", "67#######", "68#######", "75#######", "76#######", "77#######", "78#######"}

func makeFR(g *Generator, p person) identity {
	given, family := g.givenName(frNames, p.female), pick(g, frNames.family)
	c := pick(g, frCities)
	// NIR: sex, YY, MM, département + commune of birth (here: of residence),
	// order number, then the key.
	sex := "1"
	if p.female {
		sex = "2"
	}
	nir := sex + p.dob.Format("0601") + pick(g, c.communes) + pad(g.between(1, 999), 3)
	addr := strconv.Itoa(g.between(1, 150))
	if g.chance(10) {
		addr += " bis"
	}
	addr += " " + pick(g, frStreets) + ", " + pick(g, c.posts) + " " + c.name
	return identity{
		name:       given + " " + family,
		given:      given,
		family:     family,
		nationalID: nir + inseeKey(nir),
		address:    addr,
		phones:     frMobile,
	}
}

// --- United Kingdom --------------------------------------------------------

var gbNames = nameSet{
	male:   []string{"Oliver", "George", "Harry", "Jack", "Charlie", "Thomas", "James", "William", "David", "Paul", "Rhys", "Callum"},
	female: []string{"Olivia", "Amelia", "Isla", "Emily", "Sophie", "Grace", "Charlotte", "Sarah", "Margaret", "Siobhan", "Niamh", "Chloe"},
	family: []string{"Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Davies", "Evans", "Thomas", "Roberts", "Walker", "Wright", "O'Brien", "MacDonald", "Patel", "Khan"},
}

var gbStreets = []string{"High Street", "Station Road", "Church Lane", "Victoria Road", "Park Road", "Green Lane", "Manor Road", "Queen's Road", "King's Road", "Mill Lane", "The Crescent"}

// gbCity lists real outward codes (postcode districts) for each city.
type gbCity struct {
	name      string
	districts []string
}

var gbCities = []gbCity{
	{"London", []string{"E1", "N1", "SW11", "SE1", "W2", "NW3", "EC1V"}},
	{"Manchester", []string{"M1", "M4", "M14", "M20"}},
	{"Birmingham", []string{"B1", "B5", "B15", "B29"}},
	{"Leeds", []string{"LS1", "LS6", "LS17"}},
	{"Glasgow", []string{"G1", "G3", "G12"}},
	{"Edinburgh", []string{"EH1", "EH3", "EH10"}},
	{"Bristol", []string{"BS1", "BS6", "BS8"}},
	{"Liverpool", []string{"L1", "L8", "L17"}},
	{"Cardiff", []string{"CF10", "CF11", "CF24"}},
}

// gbMobile lists 07xxx ranges that are fully allocated to mobile networks.
var gbMobile = []string{
	"740#######", "741#######", "742#######", "743#######", "746#######", "747#######", "748#######", "749#######", "751#######", "753#######", "754#######", "756#######", "757#######", "758#######", "759#######", "771#######", "772#######", "773#######", "774#######", "775#######", "776#######", "777#######", "780#######", "781#######", "784#######", "785#######", "786#######", "787#######", "788#######", "789#######", "790#######", "792#######", "794#######", "795#######", "796#######", "797#######", "798#######", "799#######",
}

func makeGB(g *Generator, p person) identity {
	given, family := g.givenName(gbNames, p.female), pick(g, gbNames.family)
	c := pick(g, gbCities)
	const inward = "ABDEFGHJLNPQRSTUWXYZ"
	post := pick(g, c.districts) + " " + strconv.Itoa(g.rng.IntN(10)) +
		string(inward[g.rng.IntN(len(inward))]) + string(inward[g.rng.IntN(len(inward))])
	addr := strconv.Itoa(g.between(1, 220)) + " " + pick(g, gbStreets) + ", " + c.name + " " + post
	if g.chance(4) {
		addr = "Flat " + strconv.Itoa(g.between(1, 24)) + ", " + addr
	}
	return identity{
		name:       given + " " + family,
		given:      given,
		family:     family,
		nationalID: gbNINO(g),
		address:    addr,
		phones:     gbMobile,
	}
}

// gbNINO returns a National Insurance number using only allocatable prefixes.
func gbNINO(g *Generator) string {
	const first, second = "ABCEGHJKLMNOPRSTWXYZ", "ABCEGHJKLMNPRSTWXYZ"
	for {
		pre := string(first[g.rng.IntN(len(first))]) + string(second[g.rng.IntN(len(second))])
		switch pre {
		case "BG", "GB", "NK", "KN", "TN", "NT", "ZZ":
			continue
		}
		return pre + g.digits(6) + string("ABCD"[g.rng.IntN(4)])
	}
}

// --- Poland ----------------------------------------------------------------

var (
	plMale   = []string{"Piotr", "Krzysztof", "Andrzej", "Tomasz", "Paweł", "Michał", "Łukasz", "Jakub", "Marek", "Grzegorz", "Wojciech", "Kacper"}
	plFemale = []string{"Anna", "Maria", "Katarzyna", "Małgorzata", "Agnieszka", "Zofia", "Barbara", "Ewa", "Joanna", "Magdalena", "Żaneta", "Alicja"}
	// plSurnames pairs masculine and feminine forms.
	plSurnames = [][2]string{
		{"Nowak", "Nowak"}, {"Kowalski", "Kowalska"}, {"Wiśniewski", "Wiśniewska"},
		{"Wójcik", "Wójcik"}, {"Kowalczyk", "Kowalczyk"}, {"Kamiński", "Kamińska"},
		{"Lewandowski", "Lewandowska"}, {"Zieliński", "Zielińska"}, {"Szymański", "Szymańska"},
		{"Woźniak", "Woźniak"}, {"Dąbrowski", "Dąbrowska"}, {"Kozłowski", "Kozłowska"},
	}
	plStreets = []string{"ul. Mickiewicza", "ul. Słowackiego", "ul. Kościuszki", "ul. Długa", "ul. Polna", "ul. Leśna", "ul. Szkolna", "ul. Ogrodowa", "al. Jana Pawła II", "ul. Piłsudskiego"}
)

var plCities = []place{
	{"Warszawa", "", "", 0, 4999},
	{"Kraków", "", "", 30001, 31999},
	{"Łódź", "", "", 90001, 94999},
	{"Wrocław", "", "", 50001, 54999},
	{"Poznań", "", "", 60001, 61999},
	{"Gdańsk", "", "", 80001, 80999},
}

var plMobile = []string{"50#######", "51#######", "53#######", "57#######", "60#######", "66#######", "69#######", "72#######", "73#######", "78#######", "79#######", "88#######"}

func makePL(g *Generator, p person) identity {
	sex := 0
	given := pick(g, plMale)
	if p.female {
		sex = 1
		given = pick(g, plFemale)
	}
	family := pick(g, plSurnames)[sex]
	c := pick(g, plCities)
	post := pad(g.between(max(c.postLo, 1), c.postHi), 5)
	addr := pick(g, plStreets) + " " + strconv.Itoa(g.between(1, 120))
	if !g.chance(3) {
		addr += "/" + strconv.Itoa(g.between(1, 80))
	}
	addr += ", " + post[:2] + "-" + post[2:] + " " + c.city
	return identity{
		name:       given + " " + family,
		given:      given,
		family:     family,
		nationalID: plPESEL(g, p),
		address:    addr,
		phones:     plMobile,
	}
}

// plPESEL returns a PESEL: YYMMDD with 20 added to the month for births in
// the 2000s, a serial whose last digit is odd for men, and the check digit.
func plPESEL(g *Generator, p person) string {
	month := int(p.dob.Month())
	if p.dob.Year() >= 2000 {
		month += 20
	}
	sexDigit := 2 * g.rng.IntN(5)
	if !p.female {
		sexDigit++
	}
	body := pad(p.dob.Year()%100, 2) + pad(month, 2) + pad(p.dob.Day(), 2) + g.digits(3) + strconv.Itoa(sexDigit)
	return body + string(peselCheck(body))
}

// spaced inserts a space before s[at], as in Swedish postcodes.
func spaced(s string, at int) string { return s[:at] + " " + s[at:] }

// upperLetters returns n random letters from set.
func (g *Generator) upperLetters(set string, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(set[g.rng.IntN(len(set))])
	}
	return b.String()
}
