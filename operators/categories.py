r"""The FOS category taxonomy and the mappings into it from vendor categories, MCCs and keywords.

A FOS category is a path, most general level first: ``("Transport", "Public Transport")``. A
level-1 path alone (``("Transport",)``) is valid too and is what a mapping returns when its
input names the area but nothing finer. ``TAXONOMY`` holds every valid path; it includes every
path the merchant dictionary uses.

Three mappings lead into it, each returning ``None`` rather than guessing:

``vendor_category`` reads a vendor's own category. Plaid's legacy hierarchies
(``["Food and Drink", "Restaurants", "Coffee Shop"]``), Plaid's personal finance categories
(``FOOD_AND_DRINK_COFFEE``, alone or after its primary) and Yapily's labels (``EATING_OUT``,
``"Eating out"``) all arrive as a sequence of strings and are told apart by their content, not
by a flag: labels are compared case-insensitively with ``_``, ``-``, ``/`` and runs of spaces
read as one space and ``&`` as ``and``, and Yapily's tiered labels in one string
(``"debit - food and drink - groceries"``) are split into levels first. The deepest level that
means something wins: at each depth, from the last level up, a known legacy hierarchy prefix
is tried, then the level alone as a known label. A personal finance category code that is not
in the table still names its primary in its first words (``FOOD_AND_DRINK_SOMETHING_NEW``), so
it maps to that primary. A catch-all label (``GENERAL``, ``Other``) only counts when no level
says more.

``mcc_category`` reads an ISO 18245 Merchant Category Code: individual codes first, then the
airline, car rental and hotel ranges.

``keyword_category`` reads a description or merchant name against ordered keyword rules: the
first rule that matches wins, so the rules run from the most telling words (a fee, a salary, a
rent) down to the payment method words (``TRANSFER``, ``STANDING ORDER``), which only say how
money moved, not what for. Rules match whole words of the case-folded text. Each rule is
indexed by the letters its words start with, so a text only runs the rules its own words could
set off, which gives the same answer as running them all.

Bump the matching version with every change to a table: a stored category can then be traced
to the table that produced it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple

from operators.merchant_dictionary import (
    ACCOMMODATION,
    ACCOUNT_FEES,
    ATM_FEES,
    AUDIOBOOKS,
    BENEFITS,
    BOOKS,
    BUY_NOW_PAY_LATER,
    CLOTHING,
    COFFEE,
    CONVENIENCE,
    DEPARTMENT_STORES,
    DISCOUNT_STORES,
    ELECTRONICS,
    FAST_FOOD,
    FLIGHTS,
    FOOD_DELIVERY,
    FOREIGN_FEES,
    FUEL,
    GAMES,
    GENERAL_MERCHANDISE,
    GOVERNMENT_FEES,
    GROCERIES,
    GYMS,
    HOME_DIY,
    INSURANCE,
    INTEREST_CHARGED,
    INTERNET_TV,
    LATE_FEES,
    MARKETPLACES,
    MICROMOBILITY,
    MOBILE_PHONE,
    MUSIC,
    OVERDRAFT_FEES,
    PARKING,
    PAYMENT_SERVICES,
    PHARMACY,
    PUBLIC_TRANSPORT,
    PUBS,
    RAIL,
    RESTAURANTS,
    RIDE_SHARING,
    SALARY,
    SOFTWARE,
    SPORTING_GOODS,
    STREAMING,
    STUDENT_LOANS,
    TAXES,
    TRAVEL_BOOKING,
    UTILITIES,
)

CategoryPath = tuple[str, ...]

TAXONOMY_VERSION: Final = "2026.11.1"
MCC_VERSION: Final = "2026.11.1"
KEYWORDS_VERSION: Final = "2026.11.1"

# --------------------------------------------------------------------------------------------
# The taxonomy
# --------------------------------------------------------------------------------------------

_TREE: Final[dict[str, tuple[str, ...]]] = {
    "Income": (
        "Salary",
        "Benefits",
        "Pension",
        "Interest",
        "Dividends",
        "Refunds",
        "Tax Refund",
        "Self-Employment",
        "Rental Income",
        "Other Income",
    ),
    "Transfers": (
        "Between Own Accounts",
        "Payment Services",
        "Outgoing",
        "Incoming",
        "Credit Card Payment",
        "Loan Payment",
        "Savings and Investments",
    ),
    "Food and Drink": (
        "Groceries",
        "Coffee",
        "Fast Food",
        "Restaurants",
        "Bars and Pubs",
        "Food Delivery",
        "Bakeries",
        "Alcohol",
    ),
    "Shopping": (
        "Online Marketplaces",
        "General Merchandise",
        "Department Stores",
        "Discount Stores",
        "Convenience Stores",
        "Clothing",
        "Electronics",
        "Home and DIY",
        "Sporting Goods",
        "Books and Stationery",
        "Gifts",
        "Toys and Hobbies",
        "Jewellery and Accessories",
        "Pets",
        "Tobacco and Vaping",
    ),
    "Transport": (
        "Public Transport",
        "Rail",
        "Taxis and Ride Sharing",
        "Bikes and Scooters",
        "Fuel",
        "Parking",
        "Tolls",
        "Vehicle Maintenance",
        "Vehicle Purchase",
    ),
    "Travel": ("Flights", "Accommodation", "Booking Sites", "Car Hire", "Cruises and Ferries"),
    "Bills": (
        "Utilities",
        "Mobile Phone",
        "Internet and TV",
        "Insurance",
        "Software and Subscriptions",
    ),
    "Housing": ("Rent", "Mortgage", "Home Maintenance", "Home Services"),
    "Entertainment": (
        "Streaming",
        "Music",
        "Games",
        "Books and Audiobooks",
        "Digital Media",
        "Cinema and Theatre",
        "Events and Attractions",
        "Sports and Recreation",
        "Gambling",
    ),
    "Health": (
        "Pharmacy",
        "Gyms and Fitness",
        "Doctors",
        "Dentists",
        "Opticians",
        "Hospitals",
        "Medical Services",
        "Veterinary",
    ),
    "Personal Care": (
        "Hair and Beauty",
        "Cosmetics",
        "Spa and Massage",
        "Laundry and Dry Cleaning",
    ),
    "Education": ("Schools and Universities", "Courses and Training", "Childcare"),
    "Government": ("Taxes", "Licences and Fees", "Courts and Fines"),
    "Loans": (
        "Buy Now Pay Later",
        "Student Loans",
        "Personal Loans",
        "Car Finance",
        "Cash Advance",
        "Loan Disbursement",
    ),
    "Bank Fees": (
        "Interest Charged",
        "Overdraft",
        "ATM",
        "Account Fees",
        "Foreign Transaction",
        "Late Payment",
        "Insufficient Funds",
    ),
    "Cash": ("ATM Withdrawal", "Cash Deposit", "Currency Exchange"),
    "Charity": ("Donations", "Religious Organisations", "Political Organisations"),
    "Other": (
        "Uncategorised",
        "Services",
        "Professional Services",
        "Postage and Shipping",
        "Memberships",
    ),
}

TAXONOMY: Final[frozenset[tuple[str, ...]]] = frozenset(
    [(top,) for top in _TREE] + [(top, sub) for top, subs in _TREE.items() for sub in subs]
)

UNCATEGORISED: Final = ("Other", "Uncategorised")

# Paths the merchant dictionary does not name. The dictionary's own constants are imported
# above so both modules always agree on a path's spelling.
INCOME: Final = ("Income",)
PENSION: Final = ("Income", "Pension")
INTEREST_EARNED: Final = ("Income", "Interest")
DIVIDENDS: Final = ("Income", "Dividends")
REFUNDS: Final = ("Income", "Refunds")
TAX_REFUND: Final = ("Income", "Tax Refund")
SELF_EMPLOYMENT: Final = ("Income", "Self-Employment")
RENTAL_INCOME: Final = ("Income", "Rental Income")
OTHER_INCOME: Final = ("Income", "Other Income")
TRANSFERS: Final = ("Transfers",)
OWN_ACCOUNTS: Final = ("Transfers", "Between Own Accounts")
OUTGOING: Final = ("Transfers", "Outgoing")
INCOMING: Final = ("Transfers", "Incoming")
CARD_PAYMENT: Final = ("Transfers", "Credit Card Payment")
LOAN_PAYMENT: Final = ("Transfers", "Loan Payment")
SAVINGS: Final = ("Transfers", "Savings and Investments")
FOOD_AND_DRINK: Final = ("Food and Drink",)
BAKERIES: Final = ("Food and Drink", "Bakeries")
ALCOHOL: Final = ("Food and Drink", "Alcohol")
SHOPPING: Final = ("Shopping",)
GIFTS: Final = ("Shopping", "Gifts")
TOYS_HOBBIES: Final = ("Shopping", "Toys and Hobbies")
JEWELLERY: Final = ("Shopping", "Jewellery and Accessories")
PETS: Final = ("Shopping", "Pets")
TOBACCO: Final = ("Shopping", "Tobacco and Vaping")
TRANSPORT: Final = ("Transport",)
TOLLS: Final = ("Transport", "Tolls")
VEHICLE_MAINTENANCE: Final = ("Transport", "Vehicle Maintenance")
VEHICLE_PURCHASE: Final = ("Transport", "Vehicle Purchase")
TRAVEL: Final = ("Travel",)
CAR_HIRE: Final = ("Travel", "Car Hire")
CRUISES: Final = ("Travel", "Cruises and Ferries")
BILLS: Final = ("Bills",)
HOUSING: Final = ("Housing",)
RENT: Final = ("Housing", "Rent")
MORTGAGE: Final = ("Housing", "Mortgage")
HOME_MAINTENANCE: Final = ("Housing", "Home Maintenance")
HOME_SERVICES: Final = ("Housing", "Home Services")
ENTERTAINMENT: Final = ("Entertainment",)
DIGITAL_MEDIA: Final = ("Entertainment", "Digital Media")
CINEMA: Final = ("Entertainment", "Cinema and Theatre")
EVENTS: Final = ("Entertainment", "Events and Attractions")
SPORTS: Final = ("Entertainment", "Sports and Recreation")
GAMBLING: Final = ("Entertainment", "Gambling")
HEALTH: Final = ("Health",)
DOCTORS: Final = ("Health", "Doctors")
DENTISTS: Final = ("Health", "Dentists")
OPTICIANS: Final = ("Health", "Opticians")
HOSPITALS: Final = ("Health", "Hospitals")
MEDICAL: Final = ("Health", "Medical Services")
VETERINARY: Final = ("Health", "Veterinary")
PERSONAL_CARE: Final = ("Personal Care",)
HAIR_BEAUTY: Final = ("Personal Care", "Hair and Beauty")
COSMETICS: Final = ("Personal Care", "Cosmetics")
SPA: Final = ("Personal Care", "Spa and Massage")
LAUNDRY: Final = ("Personal Care", "Laundry and Dry Cleaning")
EDUCATION: Final = ("Education",)
SCHOOLS: Final = ("Education", "Schools and Universities")
COURSES: Final = ("Education", "Courses and Training")
CHILDCARE: Final = ("Education", "Childcare")
GOVERNMENT: Final = ("Government",)
FINES: Final = ("Government", "Courts and Fines")
LOANS: Final = ("Loans",)
PERSONAL_LOANS: Final = ("Loans", "Personal Loans")
CAR_FINANCE: Final = ("Loans", "Car Finance")
CASH_ADVANCE: Final = ("Loans", "Cash Advance")
LOAN_DISBURSEMENT: Final = ("Loans", "Loan Disbursement")
BANK_FEES: Final = ("Bank Fees",)
INSUFFICIENT_FUNDS: Final = ("Bank Fees", "Insufficient Funds")
CASH: Final = ("Cash",)
ATM_WITHDRAWAL: Final = ("Cash", "ATM Withdrawal")
CASH_DEPOSIT: Final = ("Cash", "Cash Deposit")
CURRENCY_EXCHANGE: Final = ("Cash", "Currency Exchange")
DONATIONS: Final = ("Charity", "Donations")
RELIGIOUS: Final = ("Charity", "Religious Organisations")
POLITICAL: Final = ("Charity", "Political Organisations")
OTHER: Final = ("Other",)
SERVICES: Final = ("Other", "Services")
PROFESSIONAL: Final = ("Other", "Professional Services")
POSTAGE: Final = ("Other", "Postage and Shipping")
MEMBERSHIPS: Final = ("Other", "Memberships")

# --------------------------------------------------------------------------------------------
# Vendor categories
# --------------------------------------------------------------------------------------------

# Plaid's legacy hierarchies, keyed as Plaid spells them. A hierarchy not listed falls back to
# its longest listed prefix, so each top level's entry is its default.
PLAID_LEGACY: Final[Mapping[tuple[str, ...], CategoryPath]] = {
    ("Bank Fees",): BANK_FEES,
    ("Bank Fees", "Overdraft"): OVERDRAFT_FEES,
    ("Bank Fees", "ATM"): ATM_FEES,
    ("Bank Fees", "Late Payment"): LATE_FEES,
    ("Bank Fees", "Foreign Transaction"): FOREIGN_FEES,
    ("Bank Fees", "Insufficient Funds"): INSUFFICIENT_FUNDS,
    ("Bank Fees", "Excess Activity"): ACCOUNT_FEES,
    ("Cash Advance",): CASH_ADVANCE,
    ("Community",): OTHER,
    ("Community", "Animal Shelter"): DONATIONS,
    ("Community", "Assisted Living Services"): MEDICAL,
    ("Community", "Courts"): FINES,
    ("Community", "Day Care and Preschools"): CHILDCARE,
    ("Community", "Disabled Persons Services"): MEDICAL,
    ("Community", "Drug and Alcohol Services"): MEDICAL,
    ("Community", "Education"): EDUCATION,
    ("Community", "Education", "Colleges and Universities"): SCHOOLS,
    ("Community", "Education", "Primary and Secondary Schools"): SCHOOLS,
    ("Community", "Education", "Vocational Schools"): COURSES,
    ("Community", "Education", "Tutoring and Educational Services"): COURSES,
    ("Community", "Education", "Driving Schools"): COURSES,
    ("Community", "Education", "Dance Schools"): COURSES,
    ("Community", "Education", "Culinary Lessons and Schools"): COURSES,
    ("Community", "Education", "Computer Training"): COURSES,
    ("Community", "Education", "Art School"): COURSES,
    ("Community", "Education", "Adult Education"): COURSES,
    ("Community", "Education", "Fraternities and Sororities"): MEMBERSHIPS,
    ("Community", "Government Departments and Agencies"): GOVERNMENT,
    ("Community", "Law Enforcement"): GOVERNMENT,
    ("Community", "Libraries"): GOVERNMENT,
    ("Community", "Military"): GOVERNMENT,
    ("Community", "Public and Social Services"): GOVERNMENT,
    ("Community", "Organizations and Associations"): MEMBERSHIPS,
    ("Community", "Organizations and Associations", "Charities and Non-Profits"): DONATIONS,
    ("Community", "Organizations and Associations", "Environmental"): DONATIONS,
    ("Community", "Post Offices"): POSTAGE,
    ("Community", "Religious"): RELIGIOUS,
    ("Food and Drink",): FOOD_AND_DRINK,
    ("Food and Drink", "Bar"): PUBS,
    ("Food and Drink", "Breweries"): PUBS,
    ("Food and Drink", "Nightlife"): PUBS,
    ("Food and Drink", "Restaurants"): RESTAURANTS,
    ("Food and Drink", "Restaurants", "Coffee Shop"): COFFEE,
    ("Food and Drink", "Restaurants", "Cafe"): COFFEE,
    ("Food and Drink", "Restaurants", "Fast Food"): FAST_FOOD,
    ("Food and Drink", "Restaurants", "Burgers"): FAST_FOOD,
    ("Food and Drink", "Restaurants", "Food Truck"): FAST_FOOD,
    ("Food and Drink", "Restaurants", "Fish and Chips"): FAST_FOOD,
    ("Food and Drink", "Restaurants", "Bakery"): BAKERIES,
    ("Food and Drink", "Restaurants", "Bagel Shop"): BAKERIES,
    ("Food and Drink", "Restaurants", "Cupcake Shop"): BAKERIES,
    ("Food and Drink", "Restaurants", "Donuts"): BAKERIES,
    ("Food and Drink", "Restaurants", "Gastropub"): PUBS,
    ("Healthcare",): HEALTH,
    ("Healthcare", "Healthcare Services"): MEDICAL,
    ("Healthcare", "Healthcare Services", "Dentists"): DENTISTS,
    ("Healthcare", "Healthcare Services", "Optometrists"): OPTICIANS,
    ("Healthcare", "Healthcare Services", "Hospitals, Clinics and Medical Centers"): HOSPITALS,
    ("Healthcare", "Healthcare Services", "Emergency Services"): HOSPITALS,
    ("Healthcare", "Physicians"): DOCTORS,
    # "Interest" alone says nothing about direction, so it has no default and maps to nothing.
    ("Interest", "Interest Earned"): INTEREST_EARNED,
    ("Interest", "Interest Charged"): INTEREST_CHARGED,
    ("Payment",): TRANSFERS,
    ("Payment", "Credit Card"): CARD_PAYMENT,
    ("Payment", "Rent"): RENT,
    ("Payment", "Loan"): LOAN_PAYMENT,
    ("Recreation",): SPORTS,
    ("Recreation", "Arts and Entertainment"): ENTERTAINMENT,
    ("Recreation", "Arts and Entertainment", "Movie Theatres"): CINEMA,
    ("Recreation", "Arts and Entertainment", "Theatrical Productions"): CINEMA,
    ("Recreation", "Arts and Entertainment", "Symphony and Opera"): CINEMA,
    ("Recreation", "Arts and Entertainment", "Music and Show Venues"): EVENTS,
    ("Recreation", "Arts and Entertainment", "Museums"): EVENTS,
    ("Recreation", "Arts and Entertainment", "Sports Venues"): EVENTS,
    ("Recreation", "Arts and Entertainment", "Arcades and Amusement Parks"): EVENTS,
    ("Recreation", "Arts and Entertainment", "Aquarium"): EVENTS,
    ("Recreation", "Arts and Entertainment", "Circuses and Carnivals"): EVENTS,
    ("Recreation", "Arts and Entertainment", "Fairgrounds and Rodeos"): EVENTS,
    ("Recreation", "Arts and Entertainment", "Casinos and Gaming"): GAMBLING,
    ("Recreation", "Arts and Entertainment", "Bowling"): SPORTS,
    ("Recreation", "Arts and Entertainment", "Billiards and Pool"): SPORTS,
    ("Recreation", "Arts and Entertainment", "Social Clubs"): MEMBERSHIPS,
    ("Recreation", "Gyms and Fitness Centers"): GYMS,
    ("Recreation", "Personal Trainers"): GYMS,
    ("Recreation", "Yoga and Pilates"): GYMS,
    ("Recreation", "Zoo"): EVENTS,
    ("Recreation", "Landmarks"): EVENTS,
    ("Recreation", "Stadiums and Arenas"): EVENTS,
    ("Recreation", "Campgrounds and RV Parks"): ACCOMMODATION,
    ("Service",): SERVICES,
    ("Service", "Advertising and Marketing"): PROFESSIONAL,
    ("Service", "Automotive"): VEHICLE_MAINTENANCE,
    ("Service", "Business and Strategy Consulting"): PROFESSIONAL,
    ("Service", "Business Services"): PROFESSIONAL,
    ("Service", "Cable"): INTERNET_TV,
    ("Service", "Cleaning"): HOME_SERVICES,
    ("Service", "Construction"): HOME_MAINTENANCE,
    ("Service", "Credit Counseling and Bankruptcy Services"): PROFESSIONAL,
    ("Service", "Employment Agencies"): PROFESSIONAL,
    ("Service", "Engineering"): PROFESSIONAL,
    ("Service", "Entertainment"): ENTERTAINMENT,
    ("Service", "Events and Event Planning"): EVENTS,
    ("Service", "Financial"): PROFESSIONAL,
    ("Service", "Financial", "Taxes"): TAXES,
    ("Service", "Financial", "ATMs"): ATM_WITHDRAWAL,
    ("Service", "Financial", "Check Cashing"): CASH,
    ("Service", "Financial", "Loans and Mortgages"): LOANS,
    ("Service", "Financial", "Stock Brokers"): SAVINGS,
    ("Service", "Financial", "Holding and Investment Offices"): SAVINGS,
    ("Service", "Financial", "Student Aid and Grants"): EDUCATION,
    ("Service", "Financial", "Fund Raising"): DONATIONS,
    ("Service", "Financial", "Banking and Finance"): TRANSFERS,
    ("Service", "Home Improvement"): HOME_MAINTENANCE,
    ("Service", "Home Improvement", "Movers"): HOME_SERVICES,
    ("Service", "Home Improvement", "Pest Control"): HOME_SERVICES,
    ("Service", "Home Improvement", "Landscaping and Gardeners"): HOME_SERVICES,
    ("Service", "Home Improvement", "Housewares"): HOME_DIY,
    ("Service", "Home Improvement", "Hardware and Services"): HOME_DIY,
    ("Service", "Home Improvement", "Home Appliances"): ELECTRONICS,
    ("Service", "Household"): HOME_SERVICES,
    ("Service", "Insurance"): INSURANCE,
    ("Service", "Internet Services"): INTERNET_TV,
    ("Service", "Legal"): PROFESSIONAL,
    ("Service", "Personal Care"): PERSONAL_CARE,
    ("Service", "Personal Care", "Hair Salons and Barbers"): HAIR_BEAUTY,
    ("Service", "Personal Care", "Manicures and Pedicures"): HAIR_BEAUTY,
    ("Service", "Personal Care", "Skin Care"): HAIR_BEAUTY,
    ("Service", "Personal Care", "Hair Removal"): HAIR_BEAUTY,
    ("Service", "Personal Care", "Tanning Salons"): HAIR_BEAUTY,
    ("Service", "Personal Care", "Spas"): SPA,
    ("Service", "Personal Care", "Massage Clinics and Therapists"): SPA,
    ("Service", "Personal Care", "Laundry and Garment Services"): LAUNDRY,
    ("Service", "Real Estate"): HOUSING,
    ("Service", "Real Estate", "Rent"): RENT,
    ("Service", "Real Estate", "Apartments, Condos and Houses"): RENT,
    ("Service", "Shipping and Freight"): POSTAGE,
    ("Service", "Subscription"): SOFTWARE,
    ("Service", "Tailors"): CLOTHING,
    ("Service", "Telecommunication Services"): MOBILE_PHONE,
    ("Service", "Tourist Information and Services"): TRAVEL,
    ("Service", "Transportation"): TRANSPORT,
    ("Service", "Travel Agents and Tour Operators"): TRAVEL_BOOKING,
    ("Service", "Utilities"): UTILITIES,
    ("Service", "Veterinarians"): VETERINARY,
    ("Service", "Water and Waste Management"): UTILITIES,
    ("Service", "Web Design and Development"): PROFESSIONAL,
    ("Shops",): SHOPPING,
    ("Shops", "Arts and Crafts"): TOYS_HOBBIES,
    ("Shops", "Automotive"): VEHICLE_MAINTENANCE,
    ("Shops", "Automotive", "Car Dealers and Leasing"): VEHICLE_PURCHASE,
    ("Shops", "Automotive", "Used Car Dealers"): VEHICLE_PURCHASE,
    ("Shops", "Automotive", "Motorcycles, Mopeds and Scooters"): VEHICLE_PURCHASE,
    ("Shops", "Automotive", "RVs and Motor Homes"): VEHICLE_PURCHASE,
    ("Shops", "Automotive", "Classic and Antique Car"): VEHICLE_PURCHASE,
    ("Shops", "Beauty Products"): COSMETICS,
    ("Shops", "Bicycles"): SPORTING_GOODS,
    ("Shops", "Bookstores"): BOOKS,
    ("Shops", "Cards and Stationery"): BOOKS,
    ("Shops", "Clothing and Accessories"): CLOTHING,
    ("Shops", "Computers and Electronics"): ELECTRONICS,
    ("Shops", "Computers and Electronics", "Video Games"): GAMES,
    ("Shops", "Construction Supplies"): HOME_DIY,
    ("Shops", "Convenience Stores"): CONVENIENCE,
    ("Shops", "Costumes"): CLOTHING,
    ("Shops", "Dance and Music"): TOYS_HOBBIES,
    ("Shops", "Department Stores"): DEPARTMENT_STORES,
    ("Shops", "Digital Purchase"): DIGITAL_MEDIA,
    ("Shops", "Discount Stores"): DISCOUNT_STORES,
    ("Shops", "Electrical Equipment"): ELECTRONICS,
    ("Shops", "Florists"): GIFTS,
    ("Shops", "Food and Beverage Store"): GROCERIES,
    ("Shops", "Food and Beverage Store", "Beer, Wine and Spirits"): ALCOHOL,
    ("Shops", "Fuel Dealer"): FUEL,
    ("Shops", "Furniture and Home Decor"): HOME_DIY,
    ("Shops", "Gift and Novelty"): GIFTS,
    ("Shops", "Glasses and Optometrist"): OPTICIANS,
    ("Shops", "Hardware Store"): HOME_DIY,
    ("Shops", "Hobby and Collectibles"): TOYS_HOBBIES,
    ("Shops", "Jewelry and Watches"): JEWELLERY,
    ("Shops", "Lawn and Garden"): HOME_DIY,
    ("Shops", "Musical Instruments"): TOYS_HOBBIES,
    ("Shops", "Newsstands"): BOOKS,
    ("Shops", "Office Supplies"): BOOKS,
    ("Shops", "Outlet"): DISCOUNT_STORES,
    ("Shops", "Pets"): PETS,
    ("Shops", "Pharmacies"): PHARMACY,
    ("Shops", "Sporting Goods"): SPORTING_GOODS,
    ("Shops", "Supermarkets and Groceries"): GROCERIES,
    ("Shops", "Tobacco"): TOBACCO,
    ("Shops", "Toys"): TOYS_HOBBIES,
    ("Shops", "Warehouses and Wholesale Stores"): GENERAL_MERCHANDISE,
    ("Shops", "Wedding and Bridal"): CLOTHING,
    ("Tax",): TAXES,
    ("Tax", "Refund"): TAX_REFUND,
    ("Tax", "Payment"): TAXES,
    ("Transfer",): TRANSFERS,
    ("Transfer", "Internal Account Transfer"): OWN_ACCOUNTS,
    ("Transfer", "Billpay"): OUTGOING,
    ("Transfer", "Credit"): INCOMING,
    ("Transfer", "Debit"): OUTGOING,
    ("Transfer", "Deposit"): INCOMING,
    ("Transfer", "Deposit", "ATM"): CASH_DEPOSIT,
    ("Transfer", "Keep the Change Savings Program"): SAVINGS,
    ("Transfer", "Save As You Go"): SAVINGS,
    ("Transfer", "Payroll"): SALARY,
    ("Transfer", "Payroll", "Benefits"): BENEFITS,
    ("Transfer", "Third Party"): PAYMENT_SERVICES,
    ("Transfer", "Third Party", "Coinbase"): SAVINGS,
    ("Transfer", "Third Party", "Acorns"): SAVINGS,
    ("Transfer", "Third Party", "Betterment"): SAVINGS,
    ("Transfer", "Third Party", "Digit"): SAVINGS,
    ("Transfer", "Withdrawal"): OUTGOING,
    ("Transfer", "Withdrawal", "ATM"): ATM_WITHDRAWAL,
    ("Travel",): TRAVEL,
    ("Travel", "Airlines and Aviation Services"): FLIGHTS,
    ("Travel", "Boat"): CRUISES,
    ("Travel", "Bus Stations"): PUBLIC_TRANSPORT,
    ("Travel", "Car and Truck Rentals"): CAR_HIRE,
    ("Travel", "Car Service"): RIDE_SHARING,
    ("Travel", "Car Service", "Ride Share"): RIDE_SHARING,
    ("Travel", "Charter Buses"): PUBLIC_TRANSPORT,
    ("Travel", "Cruises"): CRUISES,
    ("Travel", "Gas Stations"): FUEL,
    ("Travel", "Heliports"): FLIGHTS,
    ("Travel", "Limos and Chauffeurs"): RIDE_SHARING,
    ("Travel", "Lodging"): ACCOMMODATION,
    ("Travel", "Parking"): PARKING,
    ("Travel", "Public Transportation Services"): PUBLIC_TRANSPORT,
    ("Travel", "Rail"): RAIL,
    ("Travel", "Taxi"): RIDE_SHARING,
    ("Travel", "Tolls and Fees"): TOLLS,
    ("Travel", "Transportation Centers"): PUBLIC_TRANSPORT,
}

# Plaid's personal finance categories: the 16 primaries, their detailed codes, and the codes
# the second version of the taxonomy added.
PLAID_PFC: Final[Mapping[str, CategoryPath]] = {
    "BANK_FEES": BANK_FEES,
    "BANK_FEES_ATM_FEES": ATM_FEES,
    "BANK_FEES_FOREIGN_TRANSACTION_FEES": FOREIGN_FEES,
    "BANK_FEES_INSUFFICIENT_FUNDS": INSUFFICIENT_FUNDS,
    "BANK_FEES_INTEREST_CHARGE": INTEREST_CHARGED,
    "BANK_FEES_OVERDRAFT_FEES": OVERDRAFT_FEES,
    "BANK_FEES_LATE_FEES": LATE_FEES,
    "BANK_FEES_OTHER_BANK_FEES": BANK_FEES,
    "ENTERTAINMENT": ENTERTAINMENT,
    "ENTERTAINMENT_CASINOS_AND_GAMBLING": GAMBLING,
    "ENTERTAINMENT_MUSIC_AND_AUDIO": MUSIC,
    "ENTERTAINMENT_SPORTING_EVENTS_AMUSEMENT_PARKS_AND_MUSEUMS": EVENTS,
    # Most of this category's volume is streaming subscriptions rather than cinema tickets.
    "ENTERTAINMENT_TV_AND_MOVIES": STREAMING,
    "ENTERTAINMENT_VIDEO_GAMES": GAMES,
    "ENTERTAINMENT_OTHER_ENTERTAINMENT": ENTERTAINMENT,
    "FOOD_AND_DRINK": FOOD_AND_DRINK,
    "FOOD_AND_DRINK_BEER_WINE_AND_LIQUOR": ALCOHOL,
    "FOOD_AND_DRINK_COFFEE": COFFEE,
    "FOOD_AND_DRINK_FAST_FOOD": FAST_FOOD,
    "FOOD_AND_DRINK_GROCERIES": GROCERIES,
    "FOOD_AND_DRINK_RESTAURANT": RESTAURANTS,
    "FOOD_AND_DRINK_VENDING_MACHINES": FOOD_AND_DRINK,
    "FOOD_AND_DRINK_OTHER_FOOD_AND_DRINK": FOOD_AND_DRINK,
    "GENERAL_MERCHANDISE": SHOPPING,
    "GENERAL_MERCHANDISE_BOOKSTORES_AND_NEWSSTANDS": BOOKS,
    "GENERAL_MERCHANDISE_CLOTHING_AND_ACCESSORIES": CLOTHING,
    "GENERAL_MERCHANDISE_CONVENIENCE_STORES": CONVENIENCE,
    "GENERAL_MERCHANDISE_DEPARTMENT_STORES": DEPARTMENT_STORES,
    "GENERAL_MERCHANDISE_DISCOUNT_STORES": DISCOUNT_STORES,
    "GENERAL_MERCHANDISE_ELECTRONICS": ELECTRONICS,
    "GENERAL_MERCHANDISE_GIFTS_AND_NOVELTIES": GIFTS,
    "GENERAL_MERCHANDISE_OFFICE_SUPPLIES": BOOKS,
    "GENERAL_MERCHANDISE_ONLINE_MARKETPLACES": MARKETPLACES,
    "GENERAL_MERCHANDISE_PET_SUPPLIES": PETS,
    "GENERAL_MERCHANDISE_SPORTING_GOODS": SPORTING_GOODS,
    "GENERAL_MERCHANDISE_SUPERSTORES": GENERAL_MERCHANDISE,
    "GENERAL_MERCHANDISE_TOBACCO_AND_VAPE": TOBACCO,
    "GENERAL_MERCHANDISE_OTHER_GENERAL_MERCHANDISE": SHOPPING,
    "GENERAL_SERVICES": SERVICES,
    "GENERAL_SERVICES_ACCOUNTING_AND_FINANCIAL_PLANNING": PROFESSIONAL,
    "GENERAL_SERVICES_AUTOMOTIVE": VEHICLE_MAINTENANCE,
    "GENERAL_SERVICES_CHILDCARE": CHILDCARE,
    "GENERAL_SERVICES_CONSULTING_AND_LEGAL": PROFESSIONAL,
    "GENERAL_SERVICES_EDUCATION": EDUCATION,
    "GENERAL_SERVICES_INSURANCE": INSURANCE,
    "GENERAL_SERVICES_POSTAGE_AND_SHIPPING": POSTAGE,
    "GENERAL_SERVICES_STORAGE": SERVICES,
    "GENERAL_SERVICES_OTHER_GENERAL_SERVICES": SERVICES,
    "GOVERNMENT_AND_NON_PROFIT": GOVERNMENT,
    "GOVERNMENT_AND_NON_PROFIT_DONATIONS": DONATIONS,
    "GOVERNMENT_AND_NON_PROFIT_GOVERNMENT_DEPARTMENTS_AND_AGENCIES": GOVERNMENT,
    "GOVERNMENT_AND_NON_PROFIT_TAX_PAYMENT": TAXES,
    "GOVERNMENT_AND_NON_PROFIT_OTHER_GOVERNMENT_AND_NON_PROFIT": GOVERNMENT,
    "HOME_IMPROVEMENT": HOUSING,
    "HOME_IMPROVEMENT_FURNITURE": HOME_DIY,
    "HOME_IMPROVEMENT_HARDWARE": HOME_DIY,
    "HOME_IMPROVEMENT_REPAIR_AND_MAINTENANCE": HOME_MAINTENANCE,
    "HOME_IMPROVEMENT_SECURITY": HOME_SERVICES,
    "HOME_IMPROVEMENT_OTHER_HOME_IMPROVEMENT": HOUSING,
    "INCOME": INCOME,
    "INCOME_DIVIDENDS": DIVIDENDS,
    "INCOME_INTEREST_EARNED": INTEREST_EARNED,
    "INCOME_RETIREMENT_PENSION": PENSION,
    "INCOME_TAX_REFUND": TAX_REFUND,
    "INCOME_UNEMPLOYMENT": BENEFITS,
    "INCOME_WAGES": SALARY,
    "INCOME_SALARY": SALARY,
    "INCOME_MILITARY": SALARY,
    "INCOME_CONTRACTOR": SELF_EMPLOYMENT,
    "INCOME_GIG_ECONOMY": SELF_EMPLOYMENT,
    "INCOME_RENTAL": RENTAL_INCOME,
    "INCOME_LONG_TERM_DISABILITY": BENEFITS,
    "INCOME_CHILD_SUPPORT": OTHER_INCOME,
    "INCOME_OTHER_INCOME": OTHER_INCOME,
    "LOAN_PAYMENTS": LOANS,
    "LOAN_PAYMENTS_CAR_PAYMENT": CAR_FINANCE,
    "LOAN_PAYMENTS_CREDIT_CARD_PAYMENT": CARD_PAYMENT,
    "LOAN_PAYMENTS_MORTGAGE_PAYMENT": MORTGAGE,
    "LOAN_PAYMENTS_PERSONAL_LOAN_PAYMENT": PERSONAL_LOANS,
    "LOAN_PAYMENTS_STUDENT_LOAN_PAYMENT": STUDENT_LOANS,
    "LOAN_PAYMENTS_BNPL": BUY_NOW_PAY_LATER,
    "LOAN_PAYMENTS_OTHER_PAYMENT": LOAN_PAYMENT,
    "LOAN_DISBURSEMENTS": LOAN_DISBURSEMENT,
    "LOAN_DISBURSEMENTS_CASH_ADVANCES": CASH_ADVANCE,
    "LOAN_DISBURSEMENTS_EWA": CASH_ADVANCE,
    "MEDICAL": HEALTH,
    "MEDICAL_DENTAL_CARE": DENTISTS,
    "MEDICAL_EYE_CARE": OPTICIANS,
    "MEDICAL_NURSING_CARE": MEDICAL,
    "MEDICAL_PHARMACIES_AND_SUPPLEMENTS": PHARMACY,
    "MEDICAL_PRIMARY_CARE": DOCTORS,
    "MEDICAL_VETERINARY_SERVICES": VETERINARY,
    "MEDICAL_OTHER_MEDICAL": HEALTH,
    "PERSONAL_CARE": PERSONAL_CARE,
    "PERSONAL_CARE_GYMS_AND_FITNESS_CENTERS": GYMS,
    "PERSONAL_CARE_HAIR_AND_BEAUTY": HAIR_BEAUTY,
    "PERSONAL_CARE_LAUNDRY_AND_DRY_CLEANING": LAUNDRY,
    "PERSONAL_CARE_OTHER_PERSONAL_CARE": PERSONAL_CARE,
    "RENT_AND_UTILITIES": BILLS,
    "RENT_AND_UTILITIES_GAS_AND_ELECTRICITY": UTILITIES,
    "RENT_AND_UTILITIES_INTERNET_AND_CABLE": INTERNET_TV,
    "RENT_AND_UTILITIES_RENT": RENT,
    "RENT_AND_UTILITIES_SEWAGE_AND_WASTE_MANAGEMENT": UTILITIES,
    "RENT_AND_UTILITIES_TELEPHONE": MOBILE_PHONE,
    "RENT_AND_UTILITIES_WATER": UTILITIES,
    "RENT_AND_UTILITIES_OTHER_UTILITIES": UTILITIES,
    # An account transfer may come from someone else's account, so it is only a direction.
    "TRANSFER_IN": INCOMING,
    "TRANSFER_IN_ACCOUNT_TRANSFER": INCOMING,
    "TRANSFER_IN_CASH_ADVANCES_AND_LOANS": LOAN_DISBURSEMENT,
    "TRANSFER_IN_DEPOSIT": INCOMING,
    "TRANSFER_IN_INVESTMENT_AND_RETIREMENT_FUNDS": SAVINGS,
    "TRANSFER_IN_SAVINGS": SAVINGS,
    "TRANSFER_IN_TRANSFER_IN_FROM_APPS": PAYMENT_SERVICES,
    "TRANSFER_IN_WIRE": INCOMING,
    "TRANSFER_IN_OTHER_TRANSFER_IN": INCOMING,
    "TRANSFER_OUT": OUTGOING,
    "TRANSFER_OUT_ACCOUNT_TRANSFER": OUTGOING,
    "TRANSFER_OUT_CRYPTO": SAVINGS,
    "TRANSFER_OUT_INVESTMENT_AND_RETIREMENT_FUNDS": SAVINGS,
    "TRANSFER_OUT_SAVINGS": SAVINGS,
    "TRANSFER_OUT_TRANSFER_OUT_FROM_APPS": PAYMENT_SERVICES,
    "TRANSFER_OUT_WIRE": OUTGOING,
    "TRANSFER_OUT_WITHDRAWAL": ATM_WITHDRAWAL,
    "TRANSFER_OUT_OTHER_TRANSFER_OUT": OUTGOING,
    "TRANSPORTATION": TRANSPORT,
    "TRANSPORTATION_BIKES_AND_SCOOTERS": MICROMOBILITY,
    "TRANSPORTATION_GAS": FUEL,
    "TRANSPORTATION_PARKING": PARKING,
    "TRANSPORTATION_PUBLIC_TRANSIT": PUBLIC_TRANSPORT,
    "TRANSPORTATION_TAXIS_AND_RIDE_SHARES": RIDE_SHARING,
    "TRANSPORTATION_TOLLS": TOLLS,
    "TRANSPORTATION_OTHER_TRANSPORTATION": TRANSPORT,
    "TRAVEL": TRAVEL,
    "TRAVEL_FLIGHTS": FLIGHTS,
    "TRAVEL_LODGING": ACCOMMODATION,
    "TRAVEL_RENTAL_CARS": CAR_HIRE,
    "TRAVEL_OTHER_TRAVEL": TRAVEL,
}

# The primaries whose names start every detailed code, longest first so that a code is never
# taken for a shorter primary its own primary begins with.
_PFC_PRIMARIES: Final = tuple(
    sorted(
        (
            "BANK_FEES",
            "ENTERTAINMENT",
            "FOOD_AND_DRINK",
            "GENERAL_MERCHANDISE",
            "GENERAL_SERVICES",
            "GOVERNMENT_AND_NON_PROFIT",
            "HOME_IMPROVEMENT",
            "INCOME",
            "LOAN_DISBURSEMENTS",
            "LOAN_PAYMENTS",
            "MEDICAL",
            "PERSONAL_CARE",
            "RENT_AND_UTILITIES",
            "TRANSFER_IN",
            "TRANSFER_OUT",
            "TRANSPORTATION",
            "TRAVEL",
        ),
        key=len,
        reverse=True,
    )
)

# Yapily's labels, in their enumerated and their free-text spellings, and the common free-text
# labels other sources use.
VENDOR_LABELS: Final[Mapping[str, CategoryPath]] = {
    "ATM/bank deposit": CASH_DEPOSIT,
    "Benefits": BENEFITS,
    "BILLS": BILLS,
    "BILLS_AND_SERVICES": BILLS,
    "Cash": CASH,
    "Cashback": REFUNDS,
    "Chargeback": REFUNDS,
    "Charity": ("Charity",),
    "Coffee": COFFEE,
    "Education": EDUCATION,
    "Eating out": RESTAURANTS,
    "Entertainment": ENTERTAINMENT,
    "Fast food": FAST_FOOD,
    "Food and drink": FOOD_AND_DRINK,
    "Freelance": SELF_EMPLOYMENT,
    "Fuel": FUEL,
    "Gambling": GAMBLING,
    "Gifts": GIFTS,
    "Government": GOVERNMENT,
    "Grants or stipends": OTHER_INCOME,
    "Groceries": GROCERIES,
    "Health": HEALTH,
    "Health and wellbeing": HEALTH,
    "Holidays": TRAVEL,
    "Home": HOUSING,
    "Income": INCOME,
    "Insurance": INSURANCE,
    "Inter account transfer": TRANSFERS,
    "Interest / dividend": INCOME,
    "Intra account transfer": OWN_ACCOUNTS,
    "Investments": SAVINGS,
    "Loans": LOANS,
    "Mortgage": MORTGAGE,
    "Personal care": PERSONAL_CARE,
    "Pets": PETS,
    "Rent": RENT,
    "Restaurants": RESTAURANTS,
    "Salary": SALARY,
    "Savings": SAVINGS,
    "Shopping": SHOPPING,
    "Subscriptions": SOFTWARE,
    "Takeaways": FAST_FOOD,
    "Taxes": TAXES,
    "Transfers": TRANSFERS,
    "Transport": TRANSPORT,
    "Travel": TRAVEL,
    "Utilities": UTILITIES,
}

# Labels that only say a source did not know; a more telling level anywhere else wins.
CATCH_ALL_LABELS: Final[Mapping[str, CategoryPath]] = {
    "General": OTHER,
    "Other": OTHER,
    "Miscellaneous": OTHER,
    "Not enough information": UNCATEGORISED,
    "Uncategorised": UNCATEGORISED,
    "Uncategorized": UNCATEGORISED,
}

_SEPARATORS: Final = re.compile(r"[\s_/\-]+")
# Yapily's newer labels put their tiers in one string: "debit - food and drink - groceries".
_TIERS: Final = re.compile(r"\s+-\s+")
_SCREAMING_SNAKE: Final = re.compile(r"[A-Z][A-Z0-9_]*")


def _key(label: str) -> str:
    """The comparison form of a label: case-folded, ``&`` as ``and``, separators as one space."""
    return _SEPARATORS.sub(" ", label.casefold().replace("&", " and ")).strip()


_LEGACY_KEYS: Final[dict[tuple[str, ...], CategoryPath]] = {
    tuple(_key(level) for level in hierarchy): path for hierarchy, path in PLAID_LEGACY.items()
}
_LABEL_KEYS: Final[dict[str, CategoryPath]] = {
    _key(label): path for table in (PLAID_PFC, VENDOR_LABELS) for label, path in table.items()
}
_CATCH_ALL_KEYS: Final[dict[str, CategoryPath]] = {
    _key(label): path for label, path in CATCH_ALL_LABELS.items()
}


def _levels(path: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Each non-empty level of ``path`` as (raw, key), with in-string tiers split out."""
    levels: list[tuple[str, str]] = []
    for level in path:
        for tier in _TIERS.split(level) if " -" in level else (level,):
            key = _key(tier)
            if key:
                levels.append((tier.strip(), key))
    return tuple(levels)


def _pfc_primary(raw: str) -> CategoryPath | None:
    """The primary a personal finance category code not in the table starts with, if any."""
    if not _SCREAMING_SNAKE.fullmatch(raw):
        return None
    for primary in _PFC_PRIMARIES:
        if raw.startswith(primary + "_"):
            return PLAID_PFC[primary]
    return None


def vendor_category(path: Sequence[str]) -> CategoryPath | None:
    """The FOS category of a vendor's own category, or ``None`` when nothing in it is known.

    ``path`` is a Plaid legacy hierarchy, a Plaid personal finance category (the detailed code
    alone, or primary then detailed), or Yapily labels; a bare string counts as one level.
    The deepest level that maps wins (see the module description for the order of tries).
    """
    return _vendor_category((path,) if isinstance(path, str) else tuple(path))


# Vendors use a few hundred distinct categories, so remembering recent answers makes almost
# every lookup a single dictionary probe; the bound keeps unusual input from growing it.
@functools.lru_cache(maxsize=16384)
def _vendor_category(path: tuple[str, ...]) -> CategoryPath | None:
    """``vendor_category`` for a path already made a tuple."""
    levels = _levels(path)
    keys = tuple(key for _, key in levels)
    for depth in range(len(levels), 0, -1):
        raw, key = levels[depth - 1]
        found = _LEGACY_KEYS.get(keys[:depth]) or _LABEL_KEYS.get(key) or _pfc_primary(raw)
        if found is not None:
            return found
    for key in reversed(keys):
        catch_all = _CATCH_ALL_KEYS.get(key)
        if catch_all is not None:
            return catch_all
    return None


# --------------------------------------------------------------------------------------------
# Merchant Category Codes
# --------------------------------------------------------------------------------------------

MCC_CODES: Final[Mapping[str, CategoryPath]] = {
    "0742": VETERINARY,
    "0763": SERVICES,
    "0780": HOME_SERVICES,
    "1520": HOME_MAINTENANCE,
    "1711": HOME_MAINTENANCE,
    "1731": HOME_MAINTENANCE,
    "1740": HOME_MAINTENANCE,
    "1750": HOME_MAINTENANCE,
    "1761": HOME_MAINTENANCE,
    "1771": HOME_MAINTENANCE,
    "1799": HOME_MAINTENANCE,
    "2741": SERVICES,
    "2791": SERVICES,
    "2842": HOME_SERVICES,
    "4011": RAIL,
    "4111": PUBLIC_TRANSPORT,
    "4112": RAIL,
    "4119": MEDICAL,
    "4121": RIDE_SHARING,
    "4131": PUBLIC_TRANSPORT,
    "4214": POSTAGE,
    "4215": POSTAGE,
    "4225": SERVICES,
    "4411": CRUISES,
    "4457": SPORTS,
    "4468": SPORTS,
    "4511": FLIGHTS,
    "4582": TRAVEL,
    "4722": TRAVEL_BOOKING,
    "4723": TRAVEL_BOOKING,
    "4784": TOLLS,
    "4789": TRANSPORT,
    "4812": ELECTRONICS,
    "4813": MOBILE_PHONE,
    "4814": MOBILE_PHONE,
    "4815": MOBILE_PHONE,
    "4816": INTERNET_TV,
    "4821": SERVICES,
    "4829": PAYMENT_SERVICES,
    # The code now covers streaming services, which outnumber cable bills on card statements.
    "4899": STREAMING,
    "4900": UTILITIES,
    "5013": VEHICLE_MAINTENANCE,
    "5021": HOME_DIY,
    "5039": HOME_DIY,
    "5044": ELECTRONICS,
    "5045": ELECTRONICS,
    "5046": SHOPPING,
    "5047": MEDICAL,
    "5051": SHOPPING,
    "5065": ELECTRONICS,
    "5072": HOME_DIY,
    "5074": HOME_DIY,
    "5085": SHOPPING,
    "5094": JEWELLERY,
    "5099": SHOPPING,
    "5111": BOOKS,
    "5122": PHARMACY,
    "5131": SHOPPING,
    "5137": CLOTHING,
    "5139": CLOTHING,
    "5169": SHOPPING,
    "5172": FUEL,
    "5192": BOOKS,
    "5193": HOME_DIY,
    "5198": HOME_DIY,
    "5199": SHOPPING,
    "5200": HOME_DIY,
    "5211": HOME_DIY,
    "5231": HOME_DIY,
    "5251": HOME_DIY,
    "5261": HOME_DIY,
    "5262": MARKETPLACES,
    "5271": HOUSING,
    "5300": GENERAL_MERCHANDISE,
    "5309": SHOPPING,
    "5310": DISCOUNT_STORES,
    "5311": DEPARTMENT_STORES,
    "5331": DISCOUNT_STORES,
    "5399": GENERAL_MERCHANDISE,
    "5411": GROCERIES,
    "5422": GROCERIES,
    "5441": GROCERIES,
    "5451": GROCERIES,
    "5462": BAKERIES,
    # Miscellaneous food stores are mostly convenience stores and specialty food markets.
    "5499": GROCERIES,
    "5511": VEHICLE_PURCHASE,
    "5521": VEHICLE_PURCHASE,
    "5531": VEHICLE_MAINTENANCE,
    "5532": VEHICLE_MAINTENANCE,
    "5533": VEHICLE_MAINTENANCE,
    "5541": FUEL,
    "5542": FUEL,
    "5551": VEHICLE_PURCHASE,
    "5552": FUEL,
    "5561": VEHICLE_PURCHASE,
    "5571": VEHICLE_PURCHASE,
    "5592": VEHICLE_PURCHASE,
    "5598": VEHICLE_PURCHASE,
    "5599": VEHICLE_PURCHASE,
    "5611": CLOTHING,
    "5621": CLOTHING,
    "5631": CLOTHING,
    "5641": CLOTHING,
    "5651": CLOTHING,
    "5655": CLOTHING,
    "5661": CLOTHING,
    "5681": CLOTHING,
    "5691": CLOTHING,
    "5697": CLOTHING,
    "5698": HAIR_BEAUTY,
    "5699": CLOTHING,
    "5712": HOME_DIY,
    "5713": HOME_DIY,
    "5714": HOME_DIY,
    "5718": HOME_DIY,
    "5719": HOME_DIY,
    "5722": ELECTRONICS,
    "5732": ELECTRONICS,
    "5733": TOYS_HOBBIES,
    "5734": SOFTWARE,
    "5735": MUSIC,
    "5811": RESTAURANTS,
    "5812": RESTAURANTS,
    "5813": PUBS,
    "5814": FAST_FOOD,
    "5815": DIGITAL_MEDIA,
    "5816": GAMES,
    "5817": SOFTWARE,
    "5818": DIGITAL_MEDIA,
    "5912": PHARMACY,
    "5921": ALCOHOL,
    "5931": SHOPPING,
    "5932": SHOPPING,
    "5933": SHOPPING,
    "5935": VEHICLE_MAINTENANCE,
    "5937": SHOPPING,
    "5940": SPORTING_GOODS,
    "5941": SPORTING_GOODS,
    "5942": BOOKS,
    "5943": BOOKS,
    "5944": JEWELLERY,
    "5945": TOYS_HOBBIES,
    "5946": ELECTRONICS,
    "5947": GIFTS,
    "5948": JEWELLERY,
    "5949": TOYS_HOBBIES,
    "5950": HOME_DIY,
    "5960": INSURANCE,
    "5962": TRAVEL_BOOKING,
    "5963": SHOPPING,
    "5964": GENERAL_MERCHANDISE,
    "5965": GENERAL_MERCHANDISE,
    "5966": SHOPPING,
    "5967": SHOPPING,
    "5968": SOFTWARE,
    "5969": SHOPPING,
    "5970": TOYS_HOBBIES,
    "5971": SHOPPING,
    "5972": TOYS_HOBBIES,
    "5973": SHOPPING,
    "5975": MEDICAL,
    "5976": MEDICAL,
    "5977": COSMETICS,
    "5978": ELECTRONICS,
    "5983": UTILITIES,
    "5992": GIFTS,
    "5993": TOBACCO,
    "5994": BOOKS,
    "5995": PETS,
    "5996": HOME_DIY,
    "5997": ELECTRONICS,
    "5998": SPORTING_GOODS,
    "5999": SHOPPING,
    "6010": CASH,
    "6011": ATM_WITHDRAWAL,
    "6012": TRANSFERS,
    "6050": TRANSFERS,
    "6051": CURRENCY_EXCHANGE,
    "6211": SAVINGS,
    "6300": INSURANCE,
    "6381": INSURANCE,
    "6399": INSURANCE,
    "6513": RENT,
    "6529": TRANSFERS,
    "6530": TRANSFERS,
    "6532": TRANSFERS,
    "6533": TRANSFERS,
    "6534": TRANSFERS,
    "6535": TRANSFERS,
    "6536": TRANSFERS,
    "6537": TRANSFERS,
    "6538": TRANSFERS,
    "6540": PAYMENT_SERVICES,
    "6760": SAVINGS,
    "7011": ACCOMMODATION,
    "7012": ACCOMMODATION,
    "7032": SPORTS,
    "7033": ACCOMMODATION,
    "7210": LAUNDRY,
    "7211": LAUNDRY,
    "7216": LAUNDRY,
    "7217": HOME_SERVICES,
    "7221": SERVICES,
    "7230": HAIR_BEAUTY,
    "7251": SERVICES,
    "7261": SERVICES,
    "7273": SERVICES,
    "7276": PROFESSIONAL,
    "7277": PROFESSIONAL,
    "7278": MEMBERSHIPS,
    "7296": CLOTHING,
    "7297": SPA,
    "7298": SPA,
    "7299": PERSONAL_CARE,
    "7311": PROFESSIONAL,
    "7321": PROFESSIONAL,
    "7332": SERVICES,
    "7333": PROFESSIONAL,
    "7338": SERVICES,
    "7339": PROFESSIONAL,
    "7342": HOME_SERVICES,
    "7349": HOME_SERVICES,
    "7361": PROFESSIONAL,
    "7372": SOFTWARE,
    "7375": SOFTWARE,
    "7379": SERVICES,
    "7392": PROFESSIONAL,
    "7393": PROFESSIONAL,
    "7394": SERVICES,
    "7395": SERVICES,
    "7399": PROFESSIONAL,
    "7512": CAR_HIRE,
    "7513": CAR_HIRE,
    "7519": CAR_HIRE,
    "7523": PARKING,
    "7531": VEHICLE_MAINTENANCE,
    "7534": VEHICLE_MAINTENANCE,
    "7535": VEHICLE_MAINTENANCE,
    "7538": VEHICLE_MAINTENANCE,
    "7542": VEHICLE_MAINTENANCE,
    "7549": VEHICLE_MAINTENANCE,
    "7622": SERVICES,
    "7623": HOME_MAINTENANCE,
    "7629": HOME_MAINTENANCE,
    "7631": SERVICES,
    "7641": HOME_MAINTENANCE,
    "7692": HOME_MAINTENANCE,
    "7699": SERVICES,
    "7800": GAMBLING,
    "7801": GAMBLING,
    "7802": GAMBLING,
    "7829": ENTERTAINMENT,
    "7832": CINEMA,
    "7841": STREAMING,
    "7911": SPORTS,
    "7922": CINEMA,
    "7929": EVENTS,
    "7932": SPORTS,
    "7933": SPORTS,
    "7941": EVENTS,
    "7991": EVENTS,
    "7992": SPORTS,
    "7993": GAMES,
    "7994": GAMES,
    "7995": GAMBLING,
    "7996": EVENTS,
    "7997": GYMS,
    "7998": EVENTS,
    "7999": SPORTS,
    "8011": DOCTORS,
    "8021": DENTISTS,
    "8031": DOCTORS,
    "8041": MEDICAL,
    "8042": OPTICIANS,
    "8043": OPTICIANS,
    "8049": MEDICAL,
    "8050": MEDICAL,
    "8062": HOSPITALS,
    "8071": MEDICAL,
    "8099": MEDICAL,
    "8111": PROFESSIONAL,
    "8211": SCHOOLS,
    "8220": SCHOOLS,
    "8241": COURSES,
    "8244": COURSES,
    "8249": COURSES,
    "8299": EDUCATION,
    "8351": CHILDCARE,
    "8398": DONATIONS,
    "8641": MEMBERSHIPS,
    "8651": POLITICAL,
    "8661": RELIGIOUS,
    "8675": MEMBERSHIPS,
    "8699": MEMBERSHIPS,
    "8734": PROFESSIONAL,
    "8911": PROFESSIONAL,
    "8931": PROFESSIONAL,
    "8999": PROFESSIONAL,
    "9211": FINES,
    "9222": FINES,
    "9223": FINES,
    "9311": TAXES,
    # Government services on card statements are mostly licences, passports and permits.
    "9399": GOVERNMENT_FEES,
    "9402": POSTAGE,
    "9405": GOVERNMENT,
    "9406": GAMBLING,
}

# The ranges each airline, car rental company and hotel chain has its own code in.
MCC_RANGES: Final[tuple[tuple[int, int, CategoryPath], ...]] = (
    (3000, 3350, FLIGHTS),
    (3351, 3500, CAR_HIRE),
    (3501, 3999, ACCOMMODATION),
)


def mcc_category(code: str | None) -> CategoryPath | None:
    """The FOS category of a Merchant Category Code, or ``None`` for an unknown or bad code.

    ``code`` must be four ASCII digits once surrounding whitespace is stripped.
    """
    if code is None:
        return None
    code = code.strip()
    if len(code) != 4 or not (code.isascii() and code.isdigit()):
        return None
    found = MCC_CODES.get(code)
    if found is not None:
        return found
    number = int(code)
    for low, high, path in MCC_RANGES:
        if low <= number <= high:
            return path
    return None


# --------------------------------------------------------------------------------------------
# Keywords
# --------------------------------------------------------------------------------------------


class KeywordRule(NamedTuple):
    """One keyword rule: a pattern and the category its match implies.

    Attributes:
        pattern: Whole-word alternatives, matched against the case-folded text.
        category: FOS category path the rule gives.
        triggers: The literal start of each alternative, up to three characters; the rule can
            only match a text with a word starting with one of them. Empty when some
            alternative has no literal start, so the rule is always tried.
    """

    pattern: re.Pattern[str]
    category: CategoryPath
    triggers: frozenset[str]


# Ordered: the first rule that matches wins. Fees and interest come first because their
# narratives also name what the fee was charged on; purpose words come before payment method
# words, which come last because they only say how the money moved. Each term is a regular
# expression in lower case for one word or phrase.
_KEYWORD_TERMS: Final[tuple[tuple[tuple[str, ...], CategoryPath], ...]] = (
    (("overdraft", "unarranged borrowing"), OVERDRAFT_FEES),
    (("late payment", "missed payment", "late fees?", "late charges?"), LATE_FEES),
    (
        ("insufficient funds", "nsf", "returned (?:item|payment)", "unpaid (?:item|dd)"),
        INSUFFICIENT_FUNDS,
    ),
    (
        (
            "non[- ]?sterling",
            "(?:foreign|fx|international|overseas) (?:transaction |exchange |payment "
            "|purchase )?(?:fee|charge|commission)s?",
        ),
        FOREIGN_FEES,
    ),
    (("(?:atm|cash machine|cashpoint|withdrawal) (?:fee|charge|surcharge)s?",), ATM_FEES),
    (
        ("(?:monthly|account|maintenance|annual|packaged account) (?:account )?(?:fee|charge)s?",),
        ACCOUNT_FEES,
    ),
    # A mortgage line often says "interest" too, and it is still the mortgage.
    (("mortgage", "mtge"), MORTGAGE),
    (
        (
            "interest (?:charged?|debited|on (?:purchases|balances?|cash|overdraft))",
            "(?:debit|purchase|cash|card|loan) interest",
            "finance charges?",
        ),
        INTEREST_CHARGED,
    ),
    (
        (
            "interest (?:paid|earned|credit(?:ed)?|received)",
            "(?:credit|gross|net|savings) interest",
        ),
        INTEREST_EARNED,
    ),
    (("tax (?:refund|rebate|repayment)", "hmrc (?:refund|repayment)", r"irs treas\w*"), TAX_REFUND),
    (("salary", "salaries", "payroll", "wages?", "paycheck", "payslip"), SALARY),
    (("state pension", "pension (?:payment|income)"), PENSION),
    (
        (
            "dwp",
            "universal credit",
            "child benefit",
            "tax credits?",
            "jobseekers?",
            "unemployment benefits?",
            "housing benefit",
            "pension credit",
        ),
        BENEFITS,
    ),
    (("dividends?",), DIVIDENDS),
    (("refund", "refunded", "rfnd", "reversal", "chargeback"), REFUNDS),
    # Before the rent rule, which would otherwise read "RENT-A-CAR" as rent.
    (("(?:car|van|vehicle) (?:hire|rental)", "rent[- ]a[- ]car"), CAR_HIRE),
    (("rent", "letting agents?", "lettings"), RENT),
    (("council tax",), TAXES),
    (("hmrc", "irs", "inland revenue", "self assessment"), TAXES),
    (("(?:income|property|road|vehicle|corporation) tax", "stamp duty"), TAXES),
    # Before the parking rule: a parking fine is a fine, not parking.
    (
        (
            "penalty charge",
            "pcn",
            "parking fine",
            "speeding fine",
            "fixed penalty",
            "court (?:fine|fees?|costs)",
        ),
        FINES,
    ),
    (("dvla", "dmv", "passport", "tv licen[cs]e", "licen[cs]e fee", r"gov\.uk"), GOVERNMENT_FEES),
    (
        ("cash (?:deposit|paid in)", "paid in at", "atm deposit", "counter credit"),
        CASH_DEPOSIT,
    ),
    (("atm", "cash ?withdrawal", "cashpoint", "cash machine", "cash wdl"), ATM_WITHDRAWAL),
    (("student loans?", "slc"), STUDENT_LOANS),
    (("buy now,? pay later", "bnpl"), BUY_NOW_PAY_LATER),
    (("(?:car|motor|auto) (?:finance|financing|loan)",), CAR_FINANCE),
    (("loans?",), LOANS),
    (("(?:credit card|cc) (?:payment|repayment|pymt|pmt)", "card repayment"), CARD_PAYMENT),
    (("insurance", "assurance", "insurer"), INSURANCE),
    (
        (
            "petrol",
            "diesel",
            "fuel",
            "gasoline",
            "gas station",
            "service station",
            "filling station",
            "pfs",
            "ev charg(?:e|er|ing)",
            "charging (?:point|station)",
        ),
        FUEL,
    ),
    (("parking", "car ?park", "park and ride", "pay and display"), PARKING),
    (("tolls?", "toll road", "congestion charge", "dart ?charge", "ulez"), TOLLS),
    (("rail", "railways?", "trainline", "national rail", "trains?"), RAIL),
    # "TESCO METRO" is a shop and "METRO BANK" a bank, so neither is the metro.
    (
        (
            "tfl",
            "transport for london",
            "oyster",
            "(?<!tesco )metro(?! bank)",
            "transit",
            "bus",
            "buses",
            "trams?",
            "underground",
            "ferry",
        ),
        PUBLIC_TRANSPORT,
    ),
    (("taxis?", "cabs?", "minicab", "private hire", "ride ?share"), RIDE_SHARING),
    (("bike hire", "cycle hire", "scooter hire", "e-?scooters?"), MICROMOBILITY),
    (
        (
            "mot",
            "car wash",
            "tyres?",
            "auto (?:repair|service|parts)",
            "car (?:service|repair|parts)",
            "vehicle (?:repair|service)",
        ),
        VEHICLE_MAINTENANCE,
    ),
    (
        ("hotels?", "inn", "hostels?", "motel", "b ?& ?b", "bed and breakfast", "guest ?house"),
        ACCOMMODATION,
    ),
    # "AIR" alone is too common ("AIR CON", "AIRPORT PARKING") to mean a flight; only a carrier's
    # name or an airline word does.
    (
        (
            "airlines?",
            "airways",
            "air lines",
            "aviation",
            "flights?",
            "air (?:france|canada|india|china|new zealand|europa|malta|baltic|portugal|transat"
            "|asia|serbia|arabia)",
        ),
        FLIGHTS,
    ),
    (("cruises?", "cruise line"), CRUISES),
    (("travel agents?", "tour operators?", "package holidays?"), TRAVEL_BOOKING),
    # Before the food rules: a nail bar or a brow bar is not a bar.
    (
        (
            "hair",
            "hairdressers?",
            "hairdressing",
            "salon",
            "barbers?",
            "barbershop",
            "beauty",
            "nails?",
            "brows?",
            "lashes",
            "tanning",
            "waxing",
        ),
        HAIR_BEAUTY,
    ),
    (("massage", "day spa", "spa (?:day|treatment|break)"), SPA),
    (("laundry", "launderette", "laundrette", "laundromat", "dry clean(?:ers|ing)?"), LAUNDRY),
    (("cosmetics", "perfumery", "perfume", "fragrances?"), COSMETICS),
    (("food delivery",), FOOD_DELIVERY),
    (("bakery", "bakeries", "bakehouse", "boulangerie", "patisserie", "bakers?"), BAKERIES),
    (("coffee", "caf[eé]", "caff[eè]", "espresso", "tea ?rooms?"), COFFEE),
    (
        (
            "takeaway",
            "take away",
            "fast food",
            "burgers?",
            "kebabs?",
            "fried chicken",
            "chippy",
            "fish (?:and|&) chips",
            "drive[- ]thru",
        ),
        FAST_FOOD,
    ),
    (
        (
            "restaurants?",
            "ristorante",
            "trattoria",
            "pizzeria",
            "pizza",
            "sushi",
            "grill",
            "bistro",
            "brasserie",
            "kitchen",
            "diner",
            "steakhouse",
            "tandoori",
            "noodles?",
            "ramen",
            "tapas",
            "cantina",
            "taqueria",
            "eatery",
        ),
        RESTAURANTS,
    ),
    # A juice, salad or snack bar sells food, not drinks.
    (
        (
            "pubs?",
            "(?<!juice )(?<!salad )(?<!snack )(?<!sandwich )bar",
            "bars",
            "tavern",
            "brewery",
            "brewing",
            "brewpub",
            "taproom",
            "nightclub",
            "cocktails?",
        ),
        PUBS,
    ),
    (("off[- ]?licen[cs]e", "wine (?:shop|merchants?)", "liquor", "bottle shop"), ALCOHOL),
    (
        (
            "supermarkets?",
            "supermercado",
            "supermarch[eé]",
            "grocer",
            "grocers",
            "grocery",
            "groceries",
            "market",
            "mini ?market",
            "food ?store",
        ),
        GROCERIES,
    ),
    (("marketplace",), MARKETPLACES),
    (("convenience store", "newsagents?"), CONVENIENCE),
    (
        (
            "pharmacy",
            "pharmacie",
            "farmacia",
            "apotheke",
            "chemists?",
            "drugstore",
            "prescriptions?",
        ),
        PHARMACY,
    ),
    (("vets?", "veterinary", "veterinarian", "animal hospital"), VETERINARY),
    (("dental", "dentists?", "dentistry", "orthodontics?", "orthodontist"), DENTISTS),
    (("opticians?", "optometrists?", "optical", "eye care"), OPTICIANS),
    (("hospitals?", "nhs trust"), HOSPITALS),
    (
        ("doctors?", "gp surgery", "physicians?", "medical cent(?:re|er)", "health cent(?:re|er)"),
        DOCTORS,
    ),
    (
        (
            "gym",
            "gyms",
            "fitness",
            "leisure cent(?:re|er)",
            "health club",
            "yoga",
            "pilates",
            "crossfit",
            "personal trainer",
        ),
        GYMS,
    ),
    (
        (
            "clinics?",
            r"physio\w*",
            r"chiropract\w*",
            r"osteopath\w*",
            r"podiatr\w*",
            "counsell?ing",
            "therapy",
            "therapist",
        ),
        MEDICAL,
    ),
    (
        (
            "childcare",
            "child care",
            "cr[eè]che",
            "daycare",
            "day care",
            "day nursery",
            "childminder",
            "preschool",
            "nursery school",
        ),
        CHILDCARE,
    ),
    (
        (
            "golf",
            "bowling",
            "climbing wall",
            "ice rink",
            "skating",
            "trampoline",
            "paintball",
            "karting",
            "ski",
            "skiing",
            "swimming",
        ),
        SPORTS,
    ),
    # Before schools: a driving school teaches a course.
    (
        (
            "courses?",
            "tutors?",
            "tutoring",
            "lessons?",
            "training",
            "driving school",
            "language school",
        ),
        COURSES,
    ),
    (("university", "univ", "college", "schools?", "tuition", "student fees"), SCHOOLS),
    # Before charity: a charity shop is a shop.
    (("charity shop", "thrift store", "second[- ]hand", "pre[- ]loved"), SHOPPING),
    (
        (
            "charity",
            "charities",
            "charitable",
            "donations?",
            "donate",
            "fundraising",
            "justgiving",
            "gofundme",
        ),
        DONATIONS,
    ),
    (("church", "parish", "mosque", "synagogue", "tithes?", "diocese"), RELIGIOUS),
    (
        ("cinemas?", "movies?", "theatres?", "theaters?", "films?", "imax", "box office"),
        CINEMA,
    ),
    # Before events: a lottery ticket is gambling.
    (
        (
            "betting",
            "bet",
            "bookmakers?",
            "casinos?",
            "lottery",
            "lotto",
            "poker",
            "bingo",
            "gambling",
            "sportsbook",
        ),
        GAMBLING,
    ),
    (
        (
            "tickets?",
            "concerts?",
            "museums?",
            "gallery",
            "galleries",
            "zoo",
            "aquarium",
            "theme park",
            "amusement",
            "festival",
            "stadium",
            "attractions?",
        ),
        EVENTS,
    ),
    (("video games?", "games", "gaming", "playstation", "xbox", "nintendo"), GAMES),
    (("audiobooks?", "ebooks?"), AUDIOBOOKS),
    (
        ("tobacco", "tobacconist", "vape", "vaping", "cigarettes?", "cigars?", "smoke shop"),
        TOBACCO,
    ),
    (("pet shop", "pet store", "pet supplies", "pets", "pet food"), PETS),
    (("florists?", "flowers", "gift shop", "gifts", "souvenirs?"), GIFTS),
    (("jewell?ers?", "jewell?ery", "jewelry", "watches"), JEWELLERY),
    (("toys?", "toy shop", "hobby", "hobbies", "crafts?"), TOYS_HOBBIES),
    (("bookshop", "bookstore", "booksellers?", "books", "stationery", "stationers"), BOOKS),
    (("clothing", "clothes", "fashion", "apparel", "footwear", "shoes?", "boutique"), CLOTHING),
    (("electronics", "electricals", "computers?", "appliances"), ELECTRONICS),
    (
        (
            "diy",
            "hardware",
            "homewares?",
            "furniture",
            "garden cent(?:re|er)",
            "home improvement",
        ),
        HOME_DIY,
    ),
    (("department stores?",), DEPARTMENT_STORES),
    (
        ("post office", "royal mail", "postage", "courier", "parcels?", "usps", "fedex", "dhl"),
        POSTAGE,
    ),
    (("broadband", "cable tv", "satellite tv"), INTERNET_TV),
    (("mobile (?:phone|bill|contract)", "phone bill", "telecoms?", "telephone"), MOBILE_PHONE),
    (("electric", "electricity", "energy", "water", "sewerage", "utilities", "utility"), UTILITIES),
    # "GAS" alone is as often fuel as a utility, so it needs a bill's wording beside it.
    (
        (
            r"direct debit\b.*\bgas",
            r"dd\b.*\bgas",
            r"gas\b.*\b(?:direct debit|dd)",
            "gas (?:bill|supply|and electric)",
        ),
        UTILITIES,
    ),
    (("subscriptions?",), SOFTWARE),
    (
        (
            "internal transfer",
            "own account",
            "between accounts",
            "to savings",
            "from savings",
            "savings transfer",
        ),
        OWN_ACCOUNTS,
    ),
    (("isa", "stocks and shares", "investments?", "brokerage"), SAVINGS),
    (
        (
            "fpi",
            "faster payments? (?:in|received|credit)",
            "bank giro credit",
            "bgc",
            "transfer from",
            "tfr from",
        ),
        INCOMING,
    ),
    (("fpo", "standing order", "s/o", "transfer to", "tfr to"), OUTGOING),
    (("transfers?", "tfr", "trf", "xfer", "bank transfer", "wire"), TRANSFERS),
    # Narratives that name no merchant: cheques, deposits, card repayments, and the same
    # words in the Spanish, French and German exports banks hand out.
    (("cheques?", "chq", r"check (?:paid|#?\d+)", "checks? paid"), OUTGOING),
    (("(?:mobile|remote) (?:banking )?deposit", "deposit mobile banking"), INCOMING),
    (("autopay", "card repayment"), CARD_PAYMENT),
    (("n[oó]mina",), SALARY),
    (("reintegro efectivo", "retirada (?:de )?efectivo", "retrait", "geldautomat"), ATM_WITHDRAWAL),
    (("devoluci[oó]n", "remboursement", "erstattung", "gutschrift"), REFUNDS),
    (("transferencia", "traspaso", "bizum", "virement", "[uü]e?berweisung"), TRANSFERS),
    (("seguros?", "mutua", "assurance", "versicherung"), INSURANCE),
)

_LEADING_LOOKBEHINDS: Final = re.compile(r"(?:\(\?<[!=][^)]*\))+")
# A term may open with a group of plain alternatives, "(?:car|van) hire", as long as the
# group is not optional.
_LEADING_GROUP: Final = re.compile(r"\(\?:([a-z0-9 |]+)\)(?![?*{])")
_LITERAL_START: Final = re.compile(r"[a-z0-9]*")
_OPTIONAL_NEXT: Final = frozenset("?*{")
_TRIGGER_LENGTH: Final = 3
_WORD: Final = re.compile(r"\w+")


def _literal_start(text: str) -> str:
    """The literal characters every match of ``text`` starts with, at most three of them."""
    literal = _LITERAL_START.match(text)
    prefix = literal.group() if literal else ""
    # A quantifier after the literal run makes its last character optional.
    if prefix and text[len(prefix) : len(prefix) + 1] in _OPTIONAL_NEXT:
        prefix = prefix[:-1]
    return prefix[:_TRIGGER_LENGTH]


def _triggers(term: str) -> frozenset[str]:
    """The literal starts a match of ``term`` can have; empty when one of them is unknown."""
    body = _LEADING_LOOKBEHINDS.sub("", term, count=1) if term.startswith("(?<") else term
    group = _LEADING_GROUP.match(body)
    starts = group.group(1).split("|") if group else [body]
    prefixes = frozenset(_literal_start(start) for start in starts)
    return frozenset() if "" in prefixes else prefixes


def _rule(terms: tuple[str, ...], category: CategoryPath) -> KeywordRule:
    """A compiled rule matching any of ``terms`` as whole words."""
    pattern = re.compile(r"\b(?:" + "|".join(terms) + r")\b")
    per_term = [_triggers(term) for term in terms]
    triggers = frozenset() if not all(per_term) else frozenset().union(*per_term)
    return KeywordRule(pattern, category, triggers)


KEYWORD_RULES: Final[tuple[KeywordRule, ...]] = tuple(
    _rule(terms, category) for terms, category in _KEYWORD_TERMS
)


def _index_rules() -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]]:
    """The rules each trigger can start, and the rules with no trigger, by position."""
    by_trigger: dict[str, list[int]] = {}
    untriggered: list[int] = []
    for position, rule in enumerate(KEYWORD_RULES):
        if not rule.triggers:
            untriggered.append(position)
        for trigger in rule.triggers:
            by_trigger.setdefault(trigger, []).append(position)
    return {key: tuple(value) for key, value in by_trigger.items()}, tuple(untriggered)


_RULES_BY_TRIGGER, _UNTRIGGERED_RULES = _index_rules()


def keyword_category(text: str | None) -> CategoryPath | None:
    """The FOS category the first matching keyword rule gives ``text``, or ``None``.

    Matching is case-insensitive: the rules read the case-folded text. Only the rules one of
    the text's words can trigger are tried, which gives the same answer as trying them all.
    """
    if not text:
        return None
    folded = text.casefold()
    candidates = set(_UNTRIGGERED_RULES)
    for word in set(_WORD.findall(folded)):
        for length in range(1, _TRIGGER_LENGTH + 1):
            candidates.update(_RULES_BY_TRIGGER.get(word[:length], ()))
    for position in sorted(candidates):
        rule = KEYWORD_RULES[position]
        if rule.pattern.search(folded):
            return rule.category
    return None
