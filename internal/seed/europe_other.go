package seed

import "strconv"

// --- Italy -----------------------------------------------------------------

var itNames = nameSet{
	male:   []string{"Giuseppe", "Marco", "Luca", "Francesco", "Alessandro", "Niccolò", "Andrea", "Matteo", "Lorenzo", "Giovanni", "Antonio", "Salvatore"},
	female: []string{"Giulia", "Francesca", "Chiara", "Sofia", "Martina", "Federica", "Alessia", "Sara", "Giovanna", "Rosa", "Anna", "Elisa"},
	family: []string{"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "D'Angelo", "Mancini", "Lombardi", "Fabbri"},
}

var itStreets = []string{"Via Roma", "Via Garibaldi", "Corso Vittorio Emanuele II", "Via Dante Alighieri", "Piazza della Repubblica", "Via Mazzini", "Via Cavour", "Viale dei Mille", "Via Giuseppe Verdi", "Via Nazionale"}

// itCities: region is the province abbreviation, code the cadastral
// (Belfiore) code of the comune used in the codice fiscale.
var itCities = []place{
	{"Roma", "RM", "H501", 118, 199},
	{"Milano", "MI", "F205", 20121, 20162},
	{"Napoli", "NA", "F839", 80121, 80147},
	{"Torino", "TO", "L219", 10121, 10156},
	{"Palermo", "PA", "G273", 90121, 90151},
	{"Genova", "GE", "D969", 16121, 16167},
	{"Bologna", "BO", "A944", 40121, 40141},
	{"Firenze", "FI", "D612", 50121, 50145},
	{"Bari", "BA", "A662", 70121, 70132},
	{"Venezia", "VE", "L736", 30121, 30176},
}

var itMobile = []string{"320#######", "328#######", "329#######", "333#######", "335#######", "338#######", "339#######", "340#######", "347#######", "348#######", "349#######", "366#######", "388#######", "393#######"}

func makeIT(g *Generator, p person) identity {
	given, family := g.givenName(itNames, p.female), pick(g, itNames.family)
	c := pick(g, itCities)
	addr := pick(g, itStreets) + " " + strconv.Itoa(g.between(1, 200)) + ", " +
		pad(g.between(c.postLo, c.postHi), 5) + " " + c.city + " (" + c.region + ")"
	return identity{
		name:       given + " " + family,
		given:      given,
		family:     family,
		nationalID: itFiscalCode(family, given, p.dob, p.female, c.code),
		address:    addr,
		phones:     itMobile,
	}
}

// --- Spain -----------------------------------------------------------------

var esNames = nameSet{
	male:   []string{"Alejandro", "Javier", "Álvaro", "José Luis", "Antonio", "Manuel", "Sergio", "Íñigo", "Hugo", "Pablo", "Jesús", "Raúl"},
	female: []string{"María", "Lucía", "Carmen", "Inés", "Begoña", "Laura", "Marta", "Nuria", "Sofía", "Paula", "Ainhoa", "Rocío"},
	family: []string{"García", "Fernández", "González", "Rodríguez", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín", "Jiménez", "Muñoz", "Núñez", "Ibáñez", "Ruiz", "Díaz"},
}

var esStreets = []string{"Calle Mayor", "Calle de Alcalá", "Gran Vía", "Avenida de la Constitución", "Calle Real", "Plaza de España", "Calle San Juan", "Calle Nueva", "Avenida de Andalucía", "Calle del Carmen"}

var esCities = []place{
	{"Madrid", "", "", 28001, 28055},
	{"Barcelona", "", "", 8001, 8042},
	{"Valencia", "", "", 46001, 46026},
	{"Sevilla", "", "", 41001, 41020},
	{"Zaragoza", "", "", 50001, 50021},
	{"Málaga", "", "", 29001, 29018},
	{"Bilbao", "", "", 48001, 48015},
}

var esMobile = []string{"6########", "71#######", "72#######", "73#######", "74#######"}

func makeES(g *Generator, p person) identity {
	given := g.givenName(esNames, p.female)
	first, second := pick(g, esNames.family), pick(g, esNames.family)
	c := pick(g, esCities)
	addr := pick(g, esStreets) + ", " + strconv.Itoa(g.between(1, 150))
	if !g.chance(4) {
		addr += ", " + strconv.Itoa(g.between(1, 9)) + "º " + string(rune('A'+g.rng.IntN(4)))
	}
	addr += ", " + pad(g.between(c.postLo, c.postHi), 5) + " " + c.city
	n := g.between(10_000_000, 79_999_999)
	return identity{
		name:       given + " " + first + " " + second,
		given:      given,
		family:     first,
		nationalID: strconv.Itoa(n) + string(dniLetter(n)),
		address:    addr,
		phones:     esMobile,
	}
}

// --- Netherlands -----------------------------------------------------------

var nlNames = nameSet{
	male:   []string{"Daan", "Sem", "Lucas", "Bram", "Thijs", "Joost", "Jan", "Pieter", "Sander", "Ruben", "Noël", "Willem"},
	female: []string{"Emma", "Julia", "Sanne", "Lotte", "Anouk", "Fleur", "Chloë", "Zoë", "Eline", "Femke", "Ingrid", "Joëlle"},
	family: []string{"de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Janssen", "van der Meer", "Bos"},
}

var nlStreets = []string{"Dorpsstraat", "Kerkstraat", "Schoolstraat", "Molenweg", "Stationsweg", "Julianalaan", "Beatrixstraat", "Hoofdstraat", "Nieuwstraat", "Keizersgracht"}

var nlCities = []place{
	{"Amsterdam", "", "", 1011, 1109},
	{"Rotterdam", "", "", 3011, 3089},
	{"Den Haag", "", "", 2491, 2597},
	{"Utrecht", "", "", 3511, 3585},
	{"Eindhoven", "", "", 5611, 5658},
	{"Groningen", "", "", 9711, 9747},
}

var nlMobile = []string{"61#######", "62#######", "63#######", "64#######", "65#######"}

func makeNL(g *Generator, p person) identity {
	given, family := g.givenName(nlNames, p.female), pick(g, nlNames.family)
	c := pick(g, nlCities)
	const letters = "ABCEGHJKLMNPRTVWXZ" // avoids SA, SD, SS
	addr := pick(g, nlStreets) + " " + strconv.Itoa(g.between(1, 250))
	if g.chance(6) {
		addr += string(rune('A' + g.rng.IntN(4)))
	}
	addr += ", " + strconv.Itoa(g.between(c.postLo, c.postHi)) + " " + g.upperLetters(letters, 2) + " " + c.city
	return identity{
		name:       given + " " + family,
		given:      given,
		family:     family,
		nationalID: nlBSN(g),
		address:    addr,
		phones:     nlMobile,
	}
}

// nlBSN returns a burgerservicenummer that passes the 11-proef.
func nlBSN(g *Generator) string {
	for {
		body := strconv.Itoa(g.between(1, 6)) + g.digits(7)
		if c, ok := bsnCheck(body); ok {
			return body + string(c)
		}
	}
}

// --- Sweden ----------------------------------------------------------------

var seNames = nameSet{
	male:   []string{"Erik", "Lars", "Anders", "Björn", "Oskar", "Johan", "Karl", "Nils", "Sven", "Måns", "Olof", "Hugo"},
	female: []string{"Anna", "Maria", "Karin", "Åsa", "Linnéa", "Ingrid", "Elsa", "Maja", "Sofia", "Kerstin", "Ebba", "Astrid"},
	family: []string{"Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson", "Ström", "Åberg", "Öberg", "Sjöberg", "Lindqvist"},
}

var seStreets = []string{"Storgatan", "Drottninggatan", "Kungsgatan", "Vasagatan", "Skolgatan", "Kyrkogatan", "Järnvägsgatan", "Södra vägen", "Östra Långgatan", "Ringvägen"}

var seCities = []place{
	{"Stockholm", "", "", 11120, 11860},
	{"Göteborg", "", "", 41101, 41878},
	{"Malmö", "", "", 21111, 21775},
	{"Uppsala", "", "", 75219, 75655},
	{"Västerås", "", "", 72210, 72481},
	{"Örebro", "", "", 70210, 70375},
	{"Linköping", "", "", 58213, 58937},
}

var seMobile = []string{"70#######", "72#######", "73#######", "76#######", "79#######"}

func makeSE(g *Generator, p person) identity {
	given, family := g.givenName(seNames, p.female), pick(g, seNames.family)
	c := pick(g, seCities)
	addr := pick(g, seStreets) + " " + strconv.Itoa(g.between(1, 90))
	if g.chance(5) {
		addr += " " + string(rune('A'+g.rng.IntN(3)))
	}
	addr += ", " + spaced(strconv.Itoa(g.between(c.postLo, c.postHi)), 3) + " " + c.city
	return identity{
		name:       given + " " + family,
		given:      given,
		family:     family,
		nationalID: sePersonnummer(g, p),
		address:    addr,
		phones:     seMobile,
	}
}

// sePersonnummer returns a 12-digit personnummer YYYYMMDD-NNNC: the third
// birth-number digit is odd for men, and C is the Luhn digit over YYMMDDNNN.
func sePersonnummer(g *Generator, p person) string {
	sexDigit := 2 * g.rng.IntN(5)
	if !p.female {
		sexDigit++
	}
	nnn := g.digits(2) + strconv.Itoa(sexDigit)
	return p.dob.Format("20060102") + "-" + nnn + string(luhnCheck(p.dob.Format("060102")+nnn))
}
