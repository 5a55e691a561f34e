package decoys

import (
	"strconv"
	"strings"
	"time"
)

// postcode draws a postcode of the place p, split from "city|first
// postcode|last postcode[|...]" as the tables write it, zero-padded to
// width w.
func postcode(r *rnd, p []string, w int) string {
	lo, _ := strconv.Atoi(p[1])
	hi, _ := strconv.Atoi(p[2])
	return pad(r.between(lo, hi), w)
}

// --- Russia: given name, patronymic, surname (feminine forms add -а).

var (
	ruMale        = romanized("Александр:aleksandr,Дмитрий:dmitry,Сергей:sergey,Андрей:andrey,Алексей:aleksey,Иван:ivan,Михаил:mikhail,Никита:nikita")
	ruFemale      = romanized("Елена:elena,Ольга:olga,Наталья:natalya,Анна:anna,Мария:maria,Татьяна:tatyana,Екатерина:ekaterina,Ирина:irina")
	ruSurnames    = romanized("Иванов:ivanov,Смирнов:smirnov,Кузнецов:kuznetsov,Попов:popov,Соколов:sokolov,Лебедев:lebedev,Новиков:novikov,Морозов:morozov,Волков:volkov,Павлов:pavlov")
	ruPatronymics = romanized("Александрович:Александровна,Сергеевич:Сергеевна,Владимирович:Владимировна,Игоревич:Игоревна,Андреевич:Андреевна,Николаевич:Николаевна")
	ruStreets     = list("ул. Ленина,ул. Гагарина,пр. Мира,ул. Советская,ул. Садовая,ул. Пушкина,Молодёжная ул.,ул. Лесная")
	// ruCities are "city|first postcode|last postcode|region|OKATO code".
	ruCities = list("Москва|101000|129350||45,Санкт-Петербург|190000|199406||40,Новосибирск|630000|630132|Новосибирская обл.|50," +
		"Екатеринбург|620000|620150|Свердловская обл.|65,Казань|420000|420140|Республика Татарстан|92")
)

func makeRU(r *rnd, p person, now time.Time) identity {
	given, sur := ruMale[r.IntN(len(ruMale))], ruSurnames[r.IntN(len(ruSurnames))]
	pat := ruPatronymics[r.IntN(len(ruPatronymics))][0]
	family, familyLatin := sur[0], sur[1]
	if p.female {
		given, pat = ruFemale[r.IntN(len(ruFemale))], ruPatronymics[r.IntN(len(ruPatronymics))][1]
		family, familyLatin = family+"а", familyLatin+"a"
	}
	c := strings.Split(r.pick(ruCities), "|")
	addr := postcode(r, c, 6) + ", "
	if c[3] != "" {
		addr += c[3] + ", "
	}
	addr += "г. " + c[0] + ", " + r.pick(ruStreets) + ", д. " + strconv.Itoa(r.between(1, 120))
	if !r.chance(5) {
		addr += ", кв. " + strconv.Itoa(r.between(1, 280))
	}
	return identity{name: given[0] + " " + pat + " " + family, given: given[1], family: familyLatin,
		nationalID: ruPassport(r, c[4], p, now), address: addr}
}

// --- Germany

var (
	deNames = names{
		male:   list("Thomas,Michael,Andreas,Stefan,Christian,Markus,Tobias,Jan,Lukas,Florian,Jürgen,Björn"),
		female: list("Sabine,Claudia,Julia,Katharina,Laura,Stefanie,Melanie,Andrea,Nicole,Lisa,Jülide,Käthe"),
		family: list("Müller,Schmidt,Schneider,Fischer,Weber,Meyer,Wagner,Becker,Hoffmann,Schulz,Koch,Richter,Wolf,Schröder,Weiß,Yılmaz"),
	}
	deStreets = list("Hauptstraße,Bahnhofstraße,Gartenstraße,Ringstraße,Birkenweg,Waldstraße,Rosenstraße,Lindenallee,Am Markt,Schillerstraße")
	deCities  = list("Berlin|10115|14199,Hamburg|20095|22769,München|80331|81929,Köln|50667|51149,Frankfurt am Main|60306|60599,Leipzig|04103|04357")
)

func makeDE(r *rnd, p person, _ time.Time) identity {
	given, family := deNames.draw(r, p)
	c := strings.Split(r.pick(deCities), "|")
	addr := r.pick(deStreets) + " " + strconv.Itoa(r.between(1, 160))
	if r.chance(8) {
		addr += r.letters("abc", 1)
	}
	addr += ", " + postcode(r, c, 5) + " " + c[0]
	return identity{name: given + " " + family, given: given, family: family, nationalID: deTaxID(r), address: addr}
}

// --- France: the NIR names the commune (here, of the address).

var (
	frNames = names{
		male:   list("Jean,Pierre,Nicolas,Julien,Thomas,Antoine,Sébastien,Maxime,Mathieu,Lucas,François,Jérôme"),
		female: list("Marie,Nathalie,Isabelle,Sophie,Camille,Manon,Émilie,Julie,Céline,Aurélie,Hélène,Anaïs"),
		family: list("Martin,Bernard,Dubois,Thomas,Robert,Richard,Petit,Durand,Leroy,Moreau,Simon,Laurent,Lefebvre,Michel,Roux,Lefèvre"),
	}
	frStreets = list("rue de la Paix,avenue de la République,rue Victor Hugo,boulevard Voltaire,rue des Écoles,rue du Moulin,place de l'Église,chemin des Prés")
	// frCities are "city|INSEE commune|postcodes".
	frCities = list("Lyon|69123|69001 69003 69006 69007,Marseille|13055|13001 13006 13008 13012,Toulouse|31555|31000 31200 31400 31500," +
		"Lille|59350|59000 59800,Bordeaux|33063|33000 33100 33200 33800,Nantes|44109|44000 44100 44300")
)

func makeFR(r *rnd, p person, _ time.Time) identity {
	given, family := frNames.draw(r, p)
	var city, commune, post string
	if r.chance(3) { // Paris, by arrondissement
		a := pad(r.between(1, 20), 2)
		city, commune, post = "Paris", "751"+a, "750"+a
	} else {
		c := strings.Split(r.pick(frCities), "|")
		city, commune, post = c[0], c[1], r.pick(strings.Fields(c[2]))
	}
	addr := strconv.Itoa(r.between(1, 150))
	if r.chance(12) {
		addr += " bis"
	}
	addr += " " + r.pick(frStreets) + ", " + post + " " + city
	return identity{name: given + " " + family, given: given, family: family, nationalID: frNIR(r, commune, p), address: addr}
}

// --- United Kingdom

var (
	gbNames = names{
		male:   list("Oliver,Jack,Harry,George,Thomas,James,William,Daniel,Matthew,Andrew,Rhys,Callum"),
		female: list("Olivia,Emily,Jessica,Sophie,Charlotte,Emma,Hannah,Lucy,Rebecca,Laura,Niamh,Siobhan"),
		family: list("Smith,Jones,Williams,Taylor,Brown,Davies,Evans,Wilson,Thomas,Johnson,Roberts,Robinson,Wright,Walker,Hughes,O'Brien"),
	}
	gbStreets = list("High Street,Station Road,Church Road,Mill Lane,Victoria Road,London Road,Green Lane,Queens Road,The Avenue,Manor Road")
	// gbCities are "city|postcode districts".
	gbCities = list("London|E1 N7 SW4 SE15 NW1 W5,Manchester|M1 M13 M20,Birmingham|B5 B13 B17,Leeds|LS2 LS6,Bristol|BS3 BS6," +
		"Glasgow|G3 G12,Edinburgh|EH6 EH11,Cardiff|CF10 CF24")
)

func makeGB(r *rnd, p person, _ time.Time) identity {
	given, family := gbNames.draw(r, p)
	c := strings.Split(r.pick(gbCities), "|")
	const inward = "ABDEFGHJLNPQRSTUWXYZ"
	post := r.pick(strings.Fields(c[1])) + " " + r.digits(1) + r.letters(inward, 2)
	addr := strconv.Itoa(r.between(1, 240)) + " " + r.pick(gbStreets) + ", " + c[0] + " " + post
	if r.chance(4) {
		addr = "Flat " + strconv.Itoa(r.between(1, 30)) + ", " + addr
	}
	return identity{name: given + " " + family, given: given, family: family, nationalID: gbNINO(r), address: addr}
}

// --- Italy: the codice fiscale names the comune (here, of the address).

var (
	itNames = names{
		male:   list("Marco,Giuseppe,Luca,Francesco,Alessandro,Andrea,Matteo,Lorenzo,Davide,Stefano,Niccolò,Mattia"),
		female: list("Giulia,Francesca,Sara,Chiara,Anna,Laura,Valentina,Elena,Alessia,Martina,Federica,Silvia"),
		family: list("Rossi,Russo,Ferrari,Esposito,Bianchi,Romano,Colombo,Ricci,Marino,Greco,Bruno,Gallo,Conti,Costa,De Luca,Mancini"),
	}
	itStreets = list("Via Roma,Via Garibaldi,Via Giuseppe Mazzini,Corso Vittorio Emanuele II,Via Dante Alighieri,Piazza della Repubblica,Via Giuseppe Verdi,Viale Europa")
	// itCities are "city|first CAP|last CAP|province|cadastral code".
	itCities = list("Roma|00118|00199|RM|H501,Milano|20121|20162|MI|F205,Napoli|80121|80147|NA|F839,Torino|10121|10156|TO|L219," +
		"Bologna|40121|40141|BO|A944,Firenze|50121|50145|FI|D612,Palermo|90121|90151|PA|G273")
)

func makeIT(r *rnd, p person, _ time.Time) identity {
	given, family := itNames.draw(r, p)
	c := strings.Split(r.pick(itCities), "|")
	addr := r.pick(itStreets) + " " + strconv.Itoa(r.between(1, 200)) + ", " + postcode(r, c, 5) + " " + c[0] + " (" + c[3] + ")"
	return identity{name: given + " " + family, given: given, family: family,
		nationalID: itFiscalCode(family, given, p, c[4]), address: addr}
}

// --- Spain: two surnames.

var (
	esNames = names{
		male:   list("Antonio,José,Manuel,Francisco,David,Javier,Daniel,Carlos,Pablo,Álvaro,Sergio,Íñigo"),
		female: list("María,Carmen,Ana,Laura,Isabel,Marta,Lucía,Cristina,Elena,Paula,Nuria,Begoña"),
		family: list("García,Rodríguez,González,Fernández,López,Martínez,Sánchez,Pérez,Gómez,Martín,Jiménez,Ruiz,Hernández,Díaz,Moreno,Muñoz"),
	}
	esStreets = list("Calle Mayor,Calle de Serrano,Avenida de América,Calle Real,Calle de la Paz,Calle San Francisco,Avenida de la Libertad,Plaza Mayor")
	esCities  = list("Madrid|28001|28055,Barcelona|08001|08042,Valencia|46001|46026,Sevilla|41001|41020,Bilbao|48001|48015,Málaga|29001|29018")
)

func makeES(r *rnd, p person, _ time.Time) identity {
	given, first := esNames.draw(r, p)
	second := r.pick(esNames.family)
	c := strings.Split(r.pick(esCities), "|")
	addr := r.pick(esStreets) + ", " + strconv.Itoa(r.between(1, 150))
	if !r.chance(4) {
		addr += ", " + strconv.Itoa(r.between(1, 9)) + "º " + r.letters("ABCD", 1)
	}
	addr += ", " + postcode(r, c, 5) + " " + c[0]
	return identity{name: given + " " + first + " " + second, given: given, family: first, nationalID: esDNI(r), address: addr}
}

// --- Netherlands

var (
	nlNames = names{
		male:   list("Daan,Sem,Lucas,Jan,Pieter,Bas,Tim,Thomas,Ruben,Jeroen,Willem,Joost"),
		female: list("Emma,Sophie,Julia,Anna,Lisa,Sanne,Lotte,Eva,Fleur,Anouk,Femke,Zoë"),
		family: list("de Jong,Jansen,de Vries,van den Berg,van Dijk,Bakker,Visser,Smit,Meijer,de Boer,Mulder,Bos,Vos,Peters"),
	}
	nlStreets = list("Kerkstraat,Dorpsstraat,Molenweg,Stationsstraat,Prinsengracht,Wilhelminastraat,Julianastraat,Hoofdweg")
	nlCities  = list("Amsterdam|1011|1109,Rotterdam|3011|3089,Den Haag|2491|2597,Utrecht|3511|3585,Eindhoven|5611|5658,Groningen|9711|9747")
)

func makeNL(r *rnd, p person, _ time.Time) identity {
	given, family := nlNames.draw(r, p)
	c := strings.Split(r.pick(nlCities), "|")
	addr := r.pick(nlStreets) + " " + strconv.Itoa(r.between(1, 250))
	if r.chance(6) {
		addr += r.letters("ABCD", 1)
	}
	addr += ", " + postcode(r, c, 4) + " " + r.letters("ABCEGHJKLMNPRTVWXZ", 2) + " " + c[0]
	return identity{name: given + " " + family, given: given, family: family, nationalID: nlBSN(r), address: addr}
}

// --- Sweden

var (
	seNames = names{
		male:   list("Lars,Anders,Johan,Erik,Per,Karl,Mikael,Nils,Oskar,Gustav,Måns,Björn"),
		female: list("Anna,Maria,Eva,Karin,Sara,Emma,Lena,Kristina,Elin,Ingrid,Åsa,Linnéa"),
		family: list("Andersson,Johansson,Karlsson,Nilsson,Eriksson,Larsson,Olsson,Persson,Svensson,Gustafsson,Pettersson,Jonsson,Lindberg,Åberg"),
	}
	seStreets = list("Storgatan,Drottninggatan,Kungsgatan,Vasagatan,Parkvägen,Skolgatan,Ringvägen,Kyrkogatan")
	seCities  = list("Stockholm|11120|11860,Göteborg|41101|41878,Malmö|21111|21775,Uppsala|75219|75655,Linköping|58213|58937,Örebro|70210|70375")
)

func makeSE(r *rnd, p person, _ time.Time) identity {
	given, family := seNames.draw(r, p)
	c := strings.Split(r.pick(seCities), "|")
	post := postcode(r, c, 5)
	addr := r.pick(seStreets) + " " + strconv.Itoa(r.between(1, 90))
	if r.chance(5) {
		addr += " " + r.letters("ABC", 1)
	}
	addr += ", " + post[:3] + " " + post[3:] + " " + c[0]
	return identity{name: given + " " + family, given: given, family: family, nationalID: sePersonnummer(r, p), address: addr}
}

// --- Poland: feminine surnames in -ska and -cka.

var (
	plNames = names{
		male:   list("Piotr,Krzysztof,Andrzej,Tomasz,Paweł,Michał,Marcin,Jakub,Adam,Łukasz,Wojciech,Kacper"),
		female: list("Anna,Maria,Katarzyna,Małgorzata,Agnieszka,Barbara,Ewa,Magdalena,Joanna,Monika,Zofia,Żaneta"),
		family: list("Nowak,Kowalski,Wiśniewski,Wójcik,Kowalczyk,Kamiński,Lewandowski,Zieliński,Szymański,Woźniak,Dąbrowski,Kozłowski,Jankowski,Mazur"),
	}
	plStreets = list("ul. Marszałkowska,ul. Polna,ul. Kwiatowa,ul. Lipowa,ul. Słoneczna,ul. Mickiewicza,ul. Kościuszki,al. Niepodległości")
	plCities  = list("Warszawa|00001|04999,Kraków|30001|31999,Łódź|90001|94999,Wrocław|50001|54999,Poznań|60001|61999,Gdańsk|80001|80999")
)

func makePL(r *rnd, p person, _ time.Time) identity {
	given, family := plNames.draw(r, p)
	if p.female {
		if stem, ok := strings.CutSuffix(family, "ki"); ok {
			family = stem + "ka"
		}
	}
	c := strings.Split(r.pick(plCities), "|")
	post := postcode(r, c, 5)
	addr := r.pick(plStreets) + " " + strconv.Itoa(r.between(1, 120))
	if !r.chance(3) {
		addr += "/" + strconv.Itoa(r.between(1, 80))
	}
	addr += ", " + post[:2] + "-" + post[2:] + " " + c[0]
	return identity{name: given + " " + family, given: given, family: family, nationalID: plPESEL(r, p), address: addr}
}
