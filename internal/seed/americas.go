package seed

import (
	"strconv"
	"strings"
)

// nanpFiction returns templates for the 555-0100..0199 numbers that NANP
// reserves for fiction, in the given area codes.
func nanpFiction(areaCodes ...string) []string {
	out := make([]string, len(areaCodes))
	for i, a := range areaCodes {
		out[i] = a + "55501##"
	}
	return out
}

// --- United States ---------------------------------------------------------

var usNames = nameSet{
	male:   []string{"James", "John", "Robert", "Michael", "William", "David", "Carlos", "Daniel", "Kevin", "Anthony", "Tyrone", "Wei"},
	female: []string{"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Susan", "Jessica", "Ashley", "Maria", "Keisha", "Emily", "Mei"},
	family: []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez", "Nguyen", "Kim", "Patel", "O'Connor", "Washington"},
}

var usStreets = []string{"Main St", "Oak St", "Maple Ave", "Cedar Ln", "Elm St", "Washington Ave", "Park Ave", "Lake Dr", "Pine St", "Hillcrest Rd", "Sunset Blvd", "2nd St"}

// usCity: region is the USPS state code; phones use the city's area codes.
type usCity struct {
	place
	phones []string
}

var usCities = []usCity{
	{place{"New York", "NY", "", 10001, 10282}, nanpFiction("212", "646", "917")},
	{place{"Los Angeles", "CA", "", 90001, 90089}, nanpFiction("213", "310", "323")},
	{place{"Chicago", "IL", "", 60601, 60661}, nanpFiction("312", "773")},
	{place{"Houston", "TX", "", 77002, 77099}, nanpFiction("713", "832")},
	{place{"Phoenix", "AZ", "", 85003, 85054}, nanpFiction("602", "480")},
	{place{"Philadelphia", "PA", "", 19102, 19154}, nanpFiction("215", "267")},
	{place{"San Antonio", "TX", "", 78201, 78266}, nanpFiction("210")},
	{place{"San Diego", "CA", "", 92101, 92199}, nanpFiction("619", "858")},
	{place{"Dallas", "TX", "", 75201, 75398}, nanpFiction("214", "469")},
	{place{"Seattle", "WA", "", 98101, 98199}, nanpFiction("206")},
	{place{"Boston", "MA", "", 2108, 2137}, nanpFiction("617")},
	{place{"Denver", "CO", "", 80202, 80299}, nanpFiction("303", "720")},
	{place{"Atlanta", "GA", "", 30303, 30363}, nanpFiction("404", "678")},
	{place{"Miami", "FL", "", 33125, 33199}, nanpFiction("305", "786")},
	{place{"Portland", "OR", "", 97201, 97239}, nanpFiction("503", "971")},
}

func makeUS(g *Generator, p person) identity {
	given, family := g.givenName(usNames, p.female), pick(g, usNames.family)
	c := pick(g, usCities)
	addr := strconv.Itoa(g.between(1, 9899)) + " " + pick(g, usStreets)
	if g.chance(4) {
		addr += " Apt " + strconv.Itoa(g.between(1, 30)) + string(rune('A'+g.rng.IntN(6)))
	}
	addr += ", " + c.city + ", " + c.region + " " + pad(g.between(c.postLo, c.postHi), 5)
	return identity{
		name:       given + " " + family,
		given:      given,
		family:     family,
		nationalID: usSSN(g),
		address:    addr,
		phones:     c.phones,
	}
}

// usSSN returns an SSN-formatted number in the 900-999 area, which the SSA
// never issues. Groups 50-65, 70-88, 90-92 and 94-99 there are ITINs, so the
// group is kept in 01-49: the number is neither a real SSN nor a real ITIN.
func usSSN(g *Generator) string {
	return "9" + g.digits(2) + "-" + pad(g.between(1, 49), 2) + "-" + pad(g.between(1, 9999), 4)
}

// --- Canada ----------------------------------------------------------------

var caNames = nameSet{
	male:   []string{"Liam", "Noah", "William", "Ethan", "Benjamin", "Jacob", "Ryan", "Connor", "Arjun", "Wei"},
	female: []string{"Olivia", "Emma", "Charlotte", "Ava", "Sophia", "Abigail", "Emily", "Hannah", "Priya", "Mei"},
	family: []string{"Smith", "Brown", "Tremblay", "Martin", "Roy", "Wilson", "MacDonald", "Taylor", "Campbell", "Anderson", "Leblanc", "Lee", "Singh", "Wong"},
}

var caFrenchNames = nameSet{
	male:   []string{"Jean-François", "Mathieu", "Étienne", "Gabriel", "Félix", "Louis", "Olivier", "Stéphane", "Benoît", "Éric"},
	female: []string{"Marie-Ève", "Geneviève", "Émilie", "Chloé", "Léa", "Camille", "Mélanie", "Josée", "Andrée", "Noémie"},
	family: []string{"Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin", "Gagné", "Ouellet", "Pelletier", "Bélanger", "Lévesque"},
}

var (
	caStreets       = []string{"Main Street", "Maple Avenue", "Queen Street", "King Street", "Elm Street", "Church Street", "Victoria Street", "Park Avenue", "Lakeshore Road", "Wellington Street"}
	caFrenchStreets = []string{"rue Sainte-Catherine", "boulevard Saint-Laurent", "rue Saint-Denis", "avenue du Parc", "rue Sherbrooke", "avenue du Mont-Royal", "rue Notre-Dame"}
)

// caCity: region is the province code; fsas are real forward sortation areas.
type caCity struct {
	place
	fsas   []string
	phones []string
	french bool
}

var caCities = []caCity{
	{place{"Toronto", "ON", "", 0, 0}, []string{"M5V", "M4W", "M6J", "M5A"}, nanpFiction("416", "647"), false},
	{place{"Vancouver", "BC", "", 0, 0}, []string{"V6B", "V5K", "V6K"}, nanpFiction("604", "778"), false},
	{place{"Montréal", "QC", "", 0, 0}, []string{"H2X", "H3B", "H2T"}, nanpFiction("514", "438"), true},
	{place{"Calgary", "AB", "", 0, 0}, []string{"T2P", "T3A"}, nanpFiction("403", "587"), false},
	{place{"Ottawa", "ON", "", 0, 0}, []string{"K1P", "K2P"}, nanpFiction("613", "343"), false},
	{place{"Winnipeg", "MB", "", 0, 0}, []string{"R3C", "R2M"}, nanpFiction("204"), false},
	{place{"Halifax", "NS", "", 0, 0}, []string{"B3H", "B3K"}, nanpFiction("902"), false},
	{place{"Edmonton", "AB", "", 0, 0}, []string{"T5J", "T6G"}, nanpFiction("780"), false},
}

func makeCA(g *Generator, p person) identity {
	c := pick(g, caCities)
	names, streets := caNames, caStreets
	if c.french {
		names, streets = caFrenchNames, caFrenchStreets
	}
	given, family := g.givenName(names, p.female), pick(g, names.family)
	const ldu = "ABCEGHJKLMNPRSTVWXYZ"
	post := pick(g, c.fsas) + " " + strconv.Itoa(g.rng.IntN(10)) + g.upperLetters(ldu, 1) + strconv.Itoa(g.rng.IntN(10))
	addr := strconv.Itoa(g.between(1, 4999)) + " " + pick(g, streets)
	if g.chance(3) {
		addr = strconv.Itoa(g.between(101, 2405)) + "-" + addr
	}
	addr += ", " + c.city + " " + c.region + " " + post
	// SIN: the leading 0 is never assigned; the last digit is the Luhn digit.
	body := "0" + g.digits(7)
	sin := body + string(luhnCheck(body))
	return identity{
		name:       given + " " + family,
		given:      given,
		family:     family,
		nationalID: sin[:3] + " " + sin[3:6] + " " + sin[6:],
		address:    addr,
		phones:     c.phones,
	}
}

// --- Mexico ----------------------------------------------------------------

var mxNames = nameSet{
	male:   []string{"Juan", "Luis", "Carlos", "Jorge", "Miguel", "Alejandro", "Fernando", "Ricardo", "Santiago", "Emiliano", "Raúl", "Héctor"},
	female: []string{"Guadalupe", "Fernanda", "Ximena", "Sofía", "Valeria", "Mariana", "Daniela", "Leticia", "Verónica", "Rocío", "Itzel", "Andrea"},
	family: []string{"Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez", "Sánchez", "Ramírez", "Cruz", "Flores", "Gómez", "Muñoz", "Ortiz", "Núñez"},
}

var mxStreets = []string{"Av. Juárez", "Calle Morelos", "Av. Hidalgo", "Calle Allende", "Av. Reforma", "Calle 5 de Mayo", "Av. Revolución", "Calle Independencia", "Calle Zaragoza", "Av. Insurgentes"}

// mxColonia is a neighbourhood with its real código postal.
type mxColonia struct{ name, cp string }

// mxCity: region is the state abbreviation for addresses, code the two-letter
// CURP state code.
type mxCity struct {
	place
	colonias []mxColonia
	phones   []string
}

var mxCities = []mxCity{
	{place{"Ciudad de México", "CDMX", "DF", 0, 0}, []mxColonia{{"Roma Norte", "06700"}, {"Condesa", "06140"}, {"Del Valle", "03100"}, {"Polanco", "11560"}, {"Coyoacán", "04000"}}, []string{"55########", "56########"}},
	{place{"Guadalajara", "Jal.", "JC", 0, 0}, []mxColonia{{"Americana", "44160"}, {"Providencia", "44630"}}, []string{"33########"}},
	{place{"Monterrey", "N.L.", "NL", 0, 0}, []mxColonia{{"Centro", "64000"}, {"Obispado", "64060"}}, []string{"81########"}},
	{place{"Puebla", "Pue.", "PL", 0, 0}, []mxColonia{{"Centro", "72000"}, {"La Paz", "72160"}}, []string{"222#######"}},
	{place{"Mérida", "Yuc.", "YN", 0, 0}, []mxColonia{{"Centro", "97000"}, {"García Ginerés", "97070"}}, []string{"999#######"}},
	{place{"Tijuana", "B.C.", "BC", 0, 0}, []mxColonia{{"Zona Río", "22010"}, {"Chapultepec", "22020"}}, []string{"664#######"}},
}

func makeMX(g *Generator, p person) identity {
	given := g.givenName(mxNames, p.female)
	paternal, maternal := pick(g, mxNames.family), pick(g, mxNames.family)
	c := pick(g, mxCities)
	col := pick(g, c.colonias)
	addr := pick(g, mxStreets) + " " + strconv.Itoa(g.between(1, 2500))
	if g.chance(3) {
		addr += " Int. " + strconv.Itoa(g.between(1, 40))
	}
	addr += ", Col. " + col.name + ", " + col.cp + " " + c.city + ", " + c.region
	homoclave := strconv.Itoa(g.rng.IntN(10))
	if p.dob.Year() >= 2000 {
		homoclave = g.upperLetters("ABCDEFGHIJKLMNPQRSTUVWXYZ", 1)
	}
	return identity{
		name:       given + " " + paternal + " " + maternal,
		given:      given,
		family:     paternal,
		nationalID: curp(paternal, maternal, given, p.dob, p.female, c.code, homoclave),
		address:    addr,
		phones:     c.phones,
	}
}

// --- Brazil ----------------------------------------------------------------

var brNames = nameSet{
	male:   []string{"João", "José", "Antônio", "Lucas", "Gabriel", "Pedro", "Matheus", "Rafael", "Luiz", "Thiago", "Vinícius", "Caio"},
	female: []string{"Maria", "Ana", "Juliana", "Fernanda", "Letícia", "Beatriz", "Camila", "Larissa", "Patrícia", "Aline", "Gabriela", "Luíza"},
	family: []string{"Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes", "Araújo", "Conceição", "Gonçalves", "Ribeiro", "Carvalho"},
}

var brStreets = []string{"Rua das Flores", "Avenida Brasil", "Rua São João", "Rua XV de Novembro", "Rua Sete de Setembro", "Rua Dom Pedro II", "Avenida Getúlio Vargas", "Rua Tiradentes", "Rua Santos Dumont", "Rua Marechal Deodoro"}

// brCity: region is the state (UF); code is the CPF fiscal-region digit (the
// ninth digit); phones use the city's DDD; postLo/postHi bound the CEP prefix.
type brCity struct {
	place
	phones []string
}

var brCities = []brCity{
	{place{"São Paulo", "SP", "8", 1000, 5999}, []string{"119########"}},
	{place{"Rio de Janeiro", "RJ", "7", 20000, 23799}, []string{"219########"}},
	{place{"Belo Horizonte", "MG", "6", 30000, 31999}, []string{"319########"}},
	{place{"Curitiba", "PR", "9", 80000, 82999}, []string{"419########"}},
	{place{"Porto Alegre", "RS", "0", 90000, 91999}, []string{"519########"}},
	{place{"Brasília", "DF", "1", 70000, 72799}, []string{"619########"}},
	{place{"Salvador", "BA", "5", 40000, 42599}, []string{"719########"}},
	{place{"Recife", "PE", "4", 50000, 52999}, []string{"819########"}},
	{place{"Fortaleza", "CE", "3", 60000, 61599}, []string{"859########"}},
	{place{"Belém", "PA", "2", 66000, 66999}, []string{"919########"}},
}

func makeBR(g *Generator, p person) identity {
	given := g.givenName(brNames, p.female)
	c := pick(g, brCities)
	family := pick(g, brNames.family)
	name := given + " " + family
	if g.chance(2) {
		name = given + " " + pick(g, brNames.family) + " " + family
	}
	addr := pick(g, brStreets) + ", " + strconv.Itoa(g.between(1, 3500))
	if g.chance(3) {
		addr += ", apto " + strconv.Itoa(g.between(1, 25)) + pad(g.between(1, 8), 2)
	}
	addr += ", " + c.city + " - " + c.region + ", " + pad(g.between(c.postLo, c.postHi), 5) + "-" + g.digits(3)
	return identity{
		name:       name,
		given:      given,
		family:     family,
		nationalID: brCPF(g, c.code),
		address:    addr,
		phones:     c.phones,
	}
}

// brCPF returns a formatted CPF whose ninth digit is region and whose two
// check digits are valid; numbers of one repeated digit are avoided.
func brCPF(g *Generator, region string) string {
	for {
		body := g.digits(8) + region
		if body == strings.Repeat(body[:1], 9) {
			continue
		}
		d := body + cpfDigits(body)
		return d[:3] + "." + d[3:6] + "." + d[6:9] + "-" + d[9:]
	}
}
